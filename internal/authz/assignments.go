package authz

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/keyvault/keyvault/internal/storage"
	"github.com/keyvault/keyvault/internal/vault"
)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// roleIDFromDefinition extracts the role GUID from a role definition id such
// as /subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}.
func roleIDFromDefinition(def string) string {
	i := strings.LastIndex(strings.ToLower(def), "/roledefinitions/")
	if i < 0 {
		return def
	}
	return def[i+len("/roledefinitions/"):]
}

func invalid(format string, args ...any) *vault.Error {
	return &vault.Error{Kind: vault.KindInvalid, Code: "InvalidRoleAssignmentRequest", Message: fmt.Sprintf(format, args...)}
}

// PutAssignment creates or updates the role assignment name at scope. An
// assignment's role and principal cannot change, as in Azure.
func (s *Service) PutAssignment(ctx context.Context, scope, name, roleDefinitionID, principalID, principalType, description, by string) (*RoleAssignment, bool, error) {
	if !guidPattern.MatchString(name) {
		return nil, false, invalid("The role assignment name '%s' is not a valid GUID.", name)
	}
	roleID := roleIDFromDefinition(roleDefinitionID)
	role := RoleByID(roleID)
	if role == nil {
		return nil, false, &vault.Error{Kind: vault.KindNotFound, Code: "RoleDefinitionDoesNotExist",
			Message: fmt.Sprintf("The specified role definition with ID '%s' does not exist.", roleID)}
	}
	if !guidPattern.MatchString(principalID) {
		return nil, false, invalid("The principal id '%s' is not a valid GUID.", principalID)
	}
	if principalType == "" {
		principalType = "User"
	}
	now := s.Now().Unix()
	a := RoleAssignment{Name: strings.ToLower(name), Scope: scope, RoleID: role.ID, PrincipalID: principalID,
		PrincipalType: principalType, Description: description, CreatedOn: now, UpdatedOn: now, CreatedBy: by, UpdatedBy: by}
	created := true
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var old RoleAssignment
		found, err := getJSON(tx, []byte(a.Name), &old)
		if err != nil {
			return err
		}
		if found {
			if !strings.EqualFold(old.Scope, scope) || !strings.EqualFold(old.RoleID, a.RoleID) || !strings.EqualFold(old.PrincipalID, principalID) {
				return &vault.Error{Kind: vault.KindConflict, Code: "RoleAssignmentUpdateNotPermitted",
					Message: "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."}
			}
			created = false
			a.CreatedOn, a.CreatedBy = old.CreatedOn, old.CreatedBy
		}
		return putJSON(tx, []byte(a.Name), &a)
	})
	if err != nil {
		return nil, false, err
	}
	s.invalidate()
	return &a, created, nil
}

// GetAssignment returns the assignment name at scope.
func (s *Service) GetAssignment(ctx context.Context, scope, name string) (*RoleAssignment, error) {
	list, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if strings.EqualFold(list[i].Name, name) && strings.EqualFold(list[i].Scope, scope) {
			a := list[i]
			return &a, nil
		}
	}
	return nil, &vault.Error{Kind: vault.KindNotFound, Code: "RoleAssignmentNotFound",
		Message: fmt.Sprintf("The role assignment '%s' is not found.", name)}
}

// DeleteAssignment removes the assignment name at scope and returns it, or
// nil when there was none.
func (s *Service) DeleteAssignment(ctx context.Context, scope, name string) (*RoleAssignment, error) {
	a, err := s.GetAssignment(ctx, scope, name)
	if vault.IsKind(err, vault.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		return tx.Delete(bucketRoleAssignments, []byte(a.Name))
	})
	s.invalidate()
	return a, err
}

// ListAssignments returns the assignments that apply at scope: those at the
// scope or above it, and with below set those under it too. A non-empty
// principal keeps only that principal's assignments.
func (s *Service) ListAssignments(ctx context.Context, scope, principal string, below bool) ([]RoleAssignment, error) {
	list, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	var out []RoleAssignment
	for _, a := range list {
		if principal != "" && !strings.EqualFold(a.PrincipalID, principal) {
			continue
		}
		if withinScope(scope, a.Scope) || (below && withinScope(a.Scope, scope)) {
			out = append(out, a)
		}
	}
	return out, nil
}

// DeleteBelow removes every assignment at scope or under it, as when a vault
// is deleted: Azure does not bring role assignments back with a vault.
func (s *Service) DeleteBelow(ctx context.Context, scope string) error {
	list, err := s.load(ctx)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		for _, a := range list {
			if withinScope(a.Scope, scope) {
				if err := tx.Delete(bucketRoleAssignments, []byte(a.Name)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	s.invalidate()
	return err
}

// DeletePrincipal removes every assignment of a principal that no longer exists.
func (s *Service) DeletePrincipal(ctx context.Context, principal string) error {
	list, err := s.load(ctx)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		for _, a := range list {
			if strings.EqualFold(a.PrincipalID, principal) {
				if err := tx.Delete(bucketRoleAssignments, []byte(a.Name)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	s.invalidate()
	return err
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.assignments, s.loaded = nil, false
	s.generation++
	s.mu.Unlock()
}

func getJSON(tx storage.Tx, key []byte, v any) (bool, error) {
	raw, err := tx.Get(bucketRoleAssignments, key)
	if err != nil || raw == nil {
		return false, err
	}
	return true, jsonUnmarshal(raw, v)
}

func putJSON(tx storage.Tx, key []byte, v any) error {
	raw, err := jsonMarshal(v)
	if err != nil {
		return err
	}
	return tx.Put(bucketRoleAssignments, key, raw)
}
