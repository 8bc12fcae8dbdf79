package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyvault/keyvault/internal/identity"
	"github.com/keyvault/keyvault/internal/storage"
	"github.com/keyvault/keyvault/internal/vault"
)

// bucketRoleAssignments holds role assignments: assignment GUID -> RoleAssignment (JSON).
const bucketRoleAssignments = "role-assignments"

// RoleAssignment grants a principal a role at a scope: a subscription,
// resource group, vault or object resource id.
type RoleAssignment struct {
	Name          string `json:"name"` // a GUID
	Scope         string `json:"scope"`
	RoleID        string `json:"roleId"` // the role definition's GUID
	PrincipalID   string `json:"principalId"`
	PrincipalType string `json:"principalType"`
	Description   string `json:"description,omitempty"`
	CreatedOn     int64  `json:"createdOn"`
	UpdatedOn     int64  `json:"updatedOn"`
	CreatedBy     string `json:"createdBy,omitempty"`
	UpdatedBy     string `json:"updatedBy,omitempty"`
}

// ID returns the assignment's resource id.
func (a *RoleAssignment) ID() string {
	return a.Scope + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name
}

// Service checks permissions and stores role assignments. All assignments
// are kept in memory: there are few, and every request consults them.
type Service struct {
	store storage.Store

	mu          sync.RWMutex
	assignments []RoleAssignment
	loaded      bool
	generation  uint64 // counts invalidations, so a stale load is not kept

	// Now returns the current time, for assignment timestamps.
	Now func() time.Time
}

// New returns a Service that keeps role assignments in store.
func New(store storage.Store) *Service {
	return &Service{store: store, Now: time.Now}
}

// VaultResourceID returns the ARM resource id of a vault.
func VaultResourceID(v *vault.Vault) string {
	return "/subscriptions/" + v.SubscriptionID + "/resourceGroups/" + v.ResourceGroup +
		"/providers/Microsoft.KeyVault/vaults/" + v.Name
}

// withinScope reports whether resource is scope itself or below it.
func withinScope(resource, scope string) bool {
	resource, scope = strings.ToLower(resource), strings.TrimSuffix(strings.ToLower(scope), "/")
	return resource == scope || strings.HasPrefix(resource, scope+"/")
}

func (s *Service) load(ctx context.Context) ([]RoleAssignment, error) {
	s.mu.RLock()
	if s.loaded {
		list := s.assignments
		s.mu.RUnlock()
		return list, nil
	}
	generation := s.generation
	s.mu.RUnlock()
	var list []RoleAssignment
	err := s.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketRoleAssignments, nil, nil, func(_, value []byte) (bool, error) {
			var a RoleAssignment
			if err := json.Unmarshal(value, &a); err != nil {
				return false, err
			}
			list = append(list, a)
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.generation == generation {
		s.assignments, s.loaded = list, true
	}
	s.mu.Unlock()
	return list, nil
}

// rolesAt returns the roles assigned to principal at scopes that contain
// resource.
func (s *Service) rolesAt(ctx context.Context, principal, resource string) ([]*Role, error) {
	list, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	var roles []*Role
	for i := range list {
		a := &list[i]
		if strings.EqualFold(a.PrincipalID, principal) && withinScope(resource, a.Scope) {
			if r := RoleByID(a.RoleID); r != nil {
				roles = append(roles, r)
			}
		}
	}
	return roles, nil
}

func callerString(c *identity.Caller) string {
	return fmt.Sprintf("appid=%s;oid=%s;iss=https://sts.windows.net/%s/", c.ApplicationID, c.ObjectID, c.TenantID)
}

// Authorize checks that c may perform op on v, on the object objectPath
// (such as "secrets/s1"; empty for vault-wide operations like list). It
// returns a Forbidden *vault.Error otherwise.
func (s *Service) Authorize(ctx context.Context, v *vault.Vault, c *identity.Caller, op Operation, objectPath string) error {
	if c.Admin {
		return nil
	}
	if v.RBAC {
		resource := VaultResourceID(v)
		if objectPath != "" {
			resource += "/" + objectPath
		}
		roles, err := s.rolesAt(ctx, c.ObjectID, resource)
		if err != nil {
			return err
		}
		for _, r := range roles {
			if r.AllowsDataAction(op.DataAction) {
				return nil
			}
		}
		return &vault.Error{Kind: vault.KindForbidden, Code: "Forbidden", Inner: "ForbiddenByRbac",
			Message: fmt.Sprintf("Caller is not authorized to perform action on resource. If role assignments were recently changed, please wait several minutes for role assignments to become effective. Caller: %s. Action: '%s'. Resource: '%s'.",
				callerString(c), op.DataAction, strings.ToLower(resource))}
	}
	for i := range v.AccessPolicies {
		p := &v.AccessPolicies[i]
		if !strings.EqualFold(p.TenantID, c.TenantID) || !strings.EqualFold(p.ObjectID, c.ObjectID) {
			continue
		}
		if p.ApplicationID != "" && !strings.EqualFold(p.ApplicationID, c.ApplicationID) {
			continue
		}
		if grants(familyPermissions(&p.Permissions, op.Family), op.Permission) {
			return nil
		}
	}
	return &vault.Error{Kind: vault.KindForbidden, Code: "Forbidden", Inner: "AccessDenied",
		Message: fmt.Sprintf("The user, group or application '%s' does not have %s permission on key vault '%s;location=%s'. Grant it with an access policy.",
			callerString(c), op.Name, v.Name, v.Location)}
}

func familyPermissions(p *vault.Permissions, family string) []string {
	switch family {
	case "keys":
		return p.Keys
	case "secrets":
		return p.Secrets
	case "certificates":
		return p.Certificates
	}
	return p.Storage
}

func grants(perms []string, permission string) bool {
	return slices.ContainsFunc(perms, func(p string) bool {
		return strings.EqualFold(p, "all") || strings.EqualFold(p, permission)
	})
}

// AuthorizeControl checks that c may perform a control-plane action on the
// resource (a subscription, resource group, vault or assignment scope).
func (s *Service) AuthorizeControl(ctx context.Context, c *identity.Caller, resource, action string) error {
	if c.Admin {
		return nil
	}
	roles, err := s.rolesAt(ctx, c.ObjectID, resource)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if r.AllowsAction(action) {
			return nil
		}
	}
	return &vault.Error{Kind: vault.KindForbidden, Code: "AuthorizationFailed",
		Message: fmt.Sprintf("The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid.",
			c.ApplicationID, c.ObjectID, action, resource)}
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
