package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/spf13/cobra"
)

// rotationPolicyOutput is the output of az keyvault key rotation-policy
// show and update.
type rotationPolicyOutput struct {
	Attributes struct {
		Created   *azTime `json:"created"`
		ExpiresIn *string `json:"expiresIn"`
		Updated   *azTime `json:"updated"`
	} `json:"attributes"`
	ID              *string                `json:"id"`
	LifetimeActions []lifetimeActionOutput `json:"lifetimeActions"`
}

type lifetimeActionOutput struct {
	Action           *string `json:"action"`
	TimeAfterCreate  *string `json:"timeAfterCreate"`
	TimeBeforeExpiry *string `json:"timeBeforeExpiry"`
}

func newRotationPolicyOutput(p azkeys.KeyRotationPolicy) rotationPolicyOutput {
	out := rotationPolicyOutput{ID: p.ID, LifetimeActions: []lifetimeActionOutput{}}
	if a := p.Attributes; a != nil {
		out.Attributes.Created, out.Attributes.Updated = newAzTime(a.Created), newAzTime(a.Updated)
		out.Attributes.ExpiresIn = a.ExpiryTime
	}
	for _, la := range p.LifetimeActions {
		if la == nil {
			continue
		}
		item := lifetimeActionOutput{}
		if la.Action != nil && la.Action.Type != nil {
			item.Action = to.Ptr(string(*la.Action.Type))
		}
		if la.Trigger != nil {
			item.TimeAfterCreate, item.TimeBeforeExpiry = la.Trigger.TimeAfterCreate, la.Trigger.TimeBeforeExpiry
		}
		out.LifetimeActions = append(out.LifetimeActions, item)
	}
	return out
}

// rotationPolicyInput is the JSON of rotation-policy update --value, in
// either of the layouts az accepts: the REST layout
// ({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P90D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P2Y"}})
// or the layout that rotation-policy show prints
// ({"lifetimeActions":[{"action":"Rotate","timeAfterCreate":"P90D"}],"attributes":{"expiresIn":"P2Y"}}).
type rotationPolicyInput struct {
	LifetimeActions []struct {
		Action  json.RawMessage `json:"action"`
		Trigger *struct {
			TimeAfterCreate  *string `json:"timeAfterCreate"`
			TimeBeforeExpiry *string `json:"timeBeforeExpiry"`
		} `json:"trigger"`
		TimeAfterCreate  *string `json:"timeAfterCreate"`
		TimeBeforeExpiry *string `json:"timeBeforeExpiry"`
	} `json:"lifetimeActions"`
	Attributes *struct {
		ExpiryTime *string `json:"expiryTime"`
		ExpiresIn  *string `json:"expiresIn"`
	} `json:"attributes"`
}

// readRotationPolicy reads the rotation policy file of --value.
func readRotationPolicy(path string) (azkeys.KeyRotationPolicy, error) {
	var policy azkeys.KeyRotationPolicy
	raw, err := os.ReadFile(path)
	if err != nil {
		return policy, fmt.Errorf("read --value: %w", err)
	}
	var in rotationPolicyInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return policy, fmt.Errorf("--value %s: %w", path, err)
	}
	if in.Attributes != nil {
		expiry := in.Attributes.ExpiryTime
		if expiry == nil {
			expiry = in.Attributes.ExpiresIn
		}
		policy.Attributes = &azkeys.KeyRotationPolicyAttributes{ExpiryTime: expiry}
	}
	policy.LifetimeActions = []*azkeys.LifetimeAction{}
	for i, la := range in.LifetimeActions {
		var name string
		if err := json.Unmarshal(la.Action, &name); err != nil {
			var typed struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(la.Action, &typed); err != nil {
				return policy, fmt.Errorf(`--value %s: lifetimeActions[%d].action is neither "Rotate" nor {"type": "Rotate"}`,
					path, i)
			}
			name = typed.Type
		}
		flag := fmt.Sprintf("lifetimeActions[%d].action", i)
		action, err := pickValue(flag, name, azkeys.PossibleKeyRotationPolicyActionValues())
		if err != nil {
			return policy, fmt.Errorf("--value %s: %w", path, err)
		}
		trigger := &azkeys.LifetimeActionTrigger{TimeAfterCreate: la.TimeAfterCreate, TimeBeforeExpiry: la.TimeBeforeExpiry}
		if t := la.Trigger; t != nil {
			trigger = &azkeys.LifetimeActionTrigger{TimeAfterCreate: t.TimeAfterCreate, TimeBeforeExpiry: t.TimeBeforeExpiry}
		}
		policy.LifetimeActions = append(policy.LifetimeActions,
			&azkeys.LifetimeAction{Action: &azkeys.LifetimeActionType{Type: &action}, Trigger: trigger})
	}
	return policy, nil
}

var rotationPolicyColumns = []column{{"Id", "id"}, {"ExpiresIn", "attributes.expiresIn"}, {"LifetimeActions", "lifetimeActions"}}

func newKeyRotationPolicyCommand(conn *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotation-policy",
		Short: "Show or update the rotation policy of a key",
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
	show := newKeyObjectCommand(conn, "show (--vault-name V --name N | --id URL)", "Show the rotation policy of a key", false,
		func(cmd *cobra.Command, s *session, c *azkeys.Client, ref objectRef) error {
			resp, err := c.GetKeyRotationPolicy(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newRotationPolicyOutput(resp.KeyRotationPolicy), rotationPolicyColumns)
		})
	var file string
	update := newKeyObjectCommand(conn, "update (--vault-name V --name N | --id URL) --value FILE",
		"Replace the rotation policy of a key with the policy in a JSON file", false,
		func(cmd *cobra.Command, s *session, c *azkeys.Client, ref objectRef) error {
			policy, err := readRotationPolicy(file)
			if err != nil {
				return usageError{err}
			}
			resp, err := c.UpdateKeyRotationPolicy(cmd.Context(), ref.name, policy, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newRotationPolicyOutput(resp.KeyRotationPolicy), rotationPolicyColumns)
		})
	update.Long = `Replace the rotation policy of a key with the policy in a JSON file, in the
REST layout:

  {"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}},
                       {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}],
   "attributes": {"expiryTime": "P2Y"}}

or in the layout that rotation-policy show prints. Durations are ISO 8601.`
	update.Flags().StringVar(&file, "value", "", "JSON file of the rotation policy")
	_ = update.MarkFlagRequired("value")
	cmd.AddCommand(show, update)
	return cmd
}
