package vault

import (
	"context"
	"strings"

	"github.com/keyvault/keyvault/internal/storage"
)

// bucketResourceGroups holds resource groups: lower-case subscription \x00
// lower-case name -> ResourceGroup (JSON). Groups are namespaces for vaults;
// they are created on first use.
const bucketResourceGroups = "resource-groups"

// ResourceGroup is an Azure resource group: a named namespace for vaults in
// a subscription.
type ResourceGroup struct {
	SubscriptionID string            `json:"subscriptionId"`
	Name           string            `json:"name"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
}

func groupKey(sub, name string) []byte {
	return []byte(strings.ToLower(sub) + "\x00" + strings.ToLower(name))
}

// EnsureResourceGroup creates the resource group if it does not exist and
// returns it with created set when it was made now. A non-nil tags replaces
// the group's tags.
func (s *Service) EnsureResourceGroup(ctx context.Context, sub, name, location string, tags map[string]string) (*ResourceGroup, bool, error) {
	var g ResourceGroup
	created := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		found, err := getJSON(tx, bucketResourceGroups, groupKey(sub, name), &g)
		if err != nil {
			return err
		}
		created = !found
		if !found {
			g = ResourceGroup{SubscriptionID: sub, Name: name, Location: location}
		} else if tags == nil {
			return nil
		}
		if tags != nil {
			g.Tags = tags
		}
		return putJSON(tx, bucketResourceGroups, groupKey(sub, name), &g)
	})
	return &g, created, err
}

// GetResourceGroup returns the resource group, or a NotFound error.
func (s *Service) GetResourceGroup(ctx context.Context, sub, name string) (*ResourceGroup, error) {
	var g ResourceGroup
	found := false
	err := s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		found, err = getJSON(tx, bucketResourceGroups, groupKey(sub, name), &g)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &Error{Kind: KindNotFound, Code: "ResourceGroupNotFound", Message: "Resource group '" + name + "' could not be found."}
	}
	return &g, nil
}

// ListResourceGroups returns the resource groups of a subscription.
func (s *Service) ListResourceGroups(ctx context.Context, sub string) ([]*ResourceGroup, error) {
	var out []*ResourceGroup
	err := s.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketResourceGroups, []byte(strings.ToLower(sub)+"\x00"), nil, func(_, value []byte) (bool, error) {
			g := new(ResourceGroup)
			if err := jsonUnmarshal(value, g); err != nil {
				return false, err
			}
			out = append(out, g)
			return true, nil
		})
	})
	return out, err
}
