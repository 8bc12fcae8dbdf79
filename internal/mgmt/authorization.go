package mgmt

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/authz"
)

type roleAssignmentJSON struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`
	Type       string                   `json:"type"`
	Properties roleAssignmentProperties `json:"properties"`
}

type roleAssignmentProperties struct {
	RoleDefinitionID string  `json:"roleDefinitionId"`
	PrincipalID      string  `json:"principalId"`
	PrincipalType    string  `json:"principalType,omitempty"`
	Scope            string  `json:"scope,omitempty"`
	Description      *string `json:"description"`
	Condition        *string `json:"condition"`
	ConditionVersion *string `json:"conditionVersion"`
	CreatedOn        string  `json:"createdOn,omitempty"`
	UpdatedOn        string  `json:"updatedOn,omitempty"`
	CreatedBy        string  `json:"createdBy,omitempty"`
	UpdatedBy        string  `json:"updatedBy,omitempty"`
}

func assignmentJSON(a *authz.RoleAssignment) roleAssignmentJSON {
	var desc *string
	if a.Description != "" {
		desc = &a.Description
	}
	return roleAssignmentJSON{
		ID: a.ID(), Name: a.Name, Type: "Microsoft.Authorization/roleAssignments",
		Properties: roleAssignmentProperties{
			RoleDefinitionID: authz.RoleDefinitionID(a.RoleID), PrincipalID: a.PrincipalID, PrincipalType: a.PrincipalType,
			Scope: a.Scope, Description: desc,
			CreatedOn: time.Unix(a.CreatedOn, 0).UTC().Format(time.RFC3339), UpdatedOn: time.Unix(a.UpdatedOn, 0).UTC().Format(time.RFC3339),
			CreatedBy: a.CreatedBy, UpdatedBy: a.UpdatedBy,
		},
	}
}

// serveAuthorization routes {scope}/providers/Microsoft.Authorization/...
// (rest is what follows "Microsoft.Authorization/").
func (h *Handler) serveAuthorization(q *request, scope string, rest []string) {
	kind := strings.ToLower(rest[0])
	switch {
	case kind == "roleassignments" && len(rest) == 1 && q.r.Method == http.MethodGet:
		h.listAssignments(q, scope)
	case kind == "roleassignments" && len(rest) == 2:
		switch q.r.Method {
		case http.MethodPut:
			h.putAssignment(q, scope, rest[1])
		case http.MethodGet:
			h.getAssignment(q, scope, rest[1])
		case http.MethodDelete:
			h.deleteAssignment(q, scope, rest[1])
		default:
			methodNotAllowed(q)
		}
	case kind == "roledefinitions" && len(rest) == 1 && q.r.Method == http.MethodGet:
		h.listRoleDefinitions(q, scope)
	case kind == "roledefinitions" && len(rest) == 2 && q.r.Method == http.MethodGet:
		h.getRoleDefinition(q, scope, rest[1])
	default:
		writeError(q.w, http.StatusNotFound, "InvalidResourceType", "The resource path '"+q.r.URL.Path+"' is not served by this server.")
	}
}

// scopePattern is the form of the scopes role assignments may have: a
// subscription, a resource group, a vault, or a key, secret or certificate.
var scopePattern = regexp.MustCompile(`(?i)^/subscriptions/[0-9a-z-]+(/resourcegroups/[-\w.()]+(/providers/microsoft\.keyvault/vaults/[0-9a-z-]+(/(secrets|keys|certificates)/[0-9a-z-]+)?)?)?$`)

func (h *Handler) putAssignment(q *request, scope, name string) {
	if !scopePattern.MatchString(scope) {
		writeError(q.w, http.StatusBadRequest, "InvalidScope",
			"The scope '"+scope+"' is not a subscription, resource group, vault, or key, secret or certificate of a vault.")
		return
	}
	if !h.allow(q, scope, authz.ActionRoleAssignmentWrite) {
		return
	}
	var body struct {
		Properties struct {
			RoleDefinitionID string `json:"roleDefinitionId"`
			PrincipalID      string `json:"principalId"`
			PrincipalType    string `json:"principalType"`
			Description      string `json:"description"`
			Condition        string `json:"condition"`
		} `json:"properties"`
	}
	if !decode(q, &body) {
		return
	}
	if body.Properties.Condition != "" {
		writeError(q.w, http.StatusBadRequest, "InvalidRoleAssignmentRequest", "Role assignment conditions (ABAC) are not supported by this server.")
		return
	}
	if _, err := h.Authz.GetAssignment(q.r.Context(), scope, name); err == nil {
		audit.SetSuccessStatus(q.r.Context(), http.StatusOK)
	}
	p := body.Properties
	a, created, err := h.Authz.PutAssignment(q.r.Context(), scope, name, p.RoleDefinitionID, p.PrincipalID, p.PrincipalType, p.Description, q.caller.ObjectID)
	if err != nil {
		h.fail(q, err)
		return
	}
	h.Log.Info("role assignment written", "assignment", a.Name, "scope", a.Scope, "role", a.RoleID, "principal", a.PrincipalID, "by", q.caller.ObjectID)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(q.w, status, assignmentJSON(a))
}

func (h *Handler) getAssignment(q *request, scope, name string) {
	if !h.allow(q, scope, authz.ActionRoleAssignmentRead) {
		return
	}
	a, err := h.Authz.GetAssignment(q.r.Context(), scope, name)
	if err != nil {
		h.fail(q, err)
		return
	}
	writeJSON(q.w, http.StatusOK, assignmentJSON(a))
}

func (h *Handler) deleteAssignment(q *request, scope, name string) {
	if !h.allow(q, scope, authz.ActionRoleAssignmentDel) {
		return
	}
	a, err := h.Authz.DeleteAssignment(q.r.Context(), scope, name)
	if err != nil {
		h.fail(q, err)
		return
	}
	if a == nil {
		q.w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Log.Info("role assignment deleted", "assignment", a.Name, "scope", a.Scope, "by", q.caller.ObjectID)
	writeJSON(q.w, http.StatusOK, assignmentJSON(a))
}

// listAssignments serves the list at a scope with the $filter forms Azure
// offers: atScope() (assignments at or above the scope) and
// principalId eq '{id}' (that principal's assignments at, above or below it).
// Without a filter, assignments at, above and below the scope are listed.
func (h *Handler) listAssignments(q *request, scope string) {
	if !h.allow(q, scope, authz.ActionRoleAssignmentRead) {
		return
	}
	filter := strings.TrimSpace(q.r.URL.Query().Get("$filter"))
	principal, below := "", true
	switch {
	case filter == "":
	case strings.EqualFold(filter, "atScope()"):
		below = false
	case strings.HasPrefix(strings.ToLower(filter), "principalid eq "):
		principal = strings.Trim(strings.TrimSpace(filter[len("principalid eq "):]), "'")
	case strings.HasPrefix(strings.ToLower(filter), "assignedto("):
		principal = strings.Trim(strings.TrimSuffix(filter[len("assignedTo("):], ")"), "'")
	default:
		writeError(q.w, http.StatusBadRequest, "InvalidFilter", "Use $filter=atScope() or principalId eq '{id}'.")
		return
	}
	list, err := h.Authz.ListAssignments(q.r.Context(), scope, principal, below)
	if err != nil {
		h.fail(q, err)
		return
	}
	out := make([]roleAssignmentJSON, 0, len(list))
	for i := range list {
		out = append(out, assignmentJSON(&list[i]))
	}
	writeJSON(q.w, http.StatusOK, map[string]any{"value": out})
}

type roleDefinitionJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		RoleName         string   `json:"roleName"`
		Type             string   `json:"type"`
		Description      string   `json:"description"`
		AssignableScopes []string `json:"assignableScopes"`
		Permissions      []struct {
			Actions        []string `json:"actions"`
			NotActions     []string `json:"notActions"`
			DataActions    []string `json:"dataActions"`
			NotDataActions []string `json:"notDataActions"`
		} `json:"permissions"`
	} `json:"properties"`
}

func roleJSON(r *authz.Role) roleDefinitionJSON {
	var d roleDefinitionJSON
	d.ID, d.Name, d.Type = authz.RoleDefinitionID(r.ID), r.ID, "Microsoft.Authorization/roleDefinitions"
	d.Properties.RoleName, d.Properties.Type, d.Properties.Description = r.Name, "BuiltInRole", r.Description
	d.Properties.AssignableScopes = []string{"/"}
	d.Properties.Permissions = make([]struct {
		Actions        []string `json:"actions"`
		NotActions     []string `json:"notActions"`
		DataActions    []string `json:"dataActions"`
		NotDataActions []string `json:"notDataActions"`
	}, 1)
	perm := &d.Properties.Permissions[0]
	perm.Actions, perm.NotActions = orEmpty(r.Actions), orEmpty(r.NotActions)
	perm.DataActions, perm.NotDataActions = orEmpty(r.DataActions), orEmpty(r.NotDataActions)
	return d
}

// listRoleDefinitions lists the built-in roles, with $filter=roleName eq
// '{name}' as az role assignment create uses it.
func (h *Handler) listRoleDefinitions(q *request, _ string) {
	filter := strings.TrimSpace(q.r.URL.Query().Get("$filter"))
	name := ""
	if strings.HasPrefix(strings.ToLower(filter), "rolename eq ") {
		name = strings.Trim(strings.TrimSpace(filter[len("rolename eq "):]), "'")
	}
	out := []roleDefinitionJSON{}
	for i := range authz.BuiltinRoles {
		r := &authz.BuiltinRoles[i]
		if name == "" || strings.EqualFold(r.Name, name) {
			out = append(out, roleJSON(r))
		}
	}
	writeJSON(q.w, http.StatusOK, map[string]any{"value": out})
}

func (h *Handler) getRoleDefinition(q *request, _ string, id string) {
	r := authz.RoleByID(id)
	if r == nil {
		writeError(q.w, http.StatusNotFound, "RoleDefinitionDoesNotExist", "The role definition '"+id+"' does not exist.")
		return
	}
	writeJSON(q.w, http.StatusOK, roleJSON(r))
}
