package mgmt

import (
	"net/http"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/vault"
)

// vaultJSON is the ARM Vault resource.
type vaultJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SystemData *systemData       `json:"systemData,omitempty"`
	Properties vaultProperties   `json:"properties"`
}

type systemData struct {
	CreatedBy          string `json:"createdBy,omitempty"`
	CreatedByType      string `json:"createdByType,omitempty"`
	CreatedAt          string `json:"createdAt,omitempty"`
	LastModifiedBy     string `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     string `json:"lastModifiedAt,omitempty"`
}

type skuJSON struct {
	Family string `json:"family"`
	Name   string `json:"name"`
}

type permissionsJSON struct {
	Keys         []string `json:"keys"`
	Secrets      []string `json:"secrets"`
	Certificates []string `json:"certificates"`
	Storage      []string `json:"storage,omitempty"`
}

type accessPolicyJSON struct {
	TenantID      string          `json:"tenantId"`
	ObjectID      string          `json:"objectId"`
	ApplicationID string          `json:"applicationId,omitempty"`
	Permissions   permissionsJSON `json:"permissions"`
}

// vaultProperties is VaultProperties; request-only fields are pointers so an
// update can tell a missing field from false.
type vaultProperties struct {
	TenantID                     string             `json:"tenantId,omitempty"`
	SKU                          *skuJSON           `json:"sku,omitempty"`
	AccessPolicies               []accessPolicyJSON `json:"accessPolicies"`
	VaultURI                     string             `json:"vaultUri,omitempty"`
	EnabledForDeployment         *bool              `json:"enabledForDeployment,omitempty"`
	EnabledForDiskEncryption     *bool              `json:"enabledForDiskEncryption,omitempty"`
	EnabledForTemplateDeployment *bool              `json:"enabledForTemplateDeployment,omitempty"`
	EnableSoftDelete             *bool              `json:"enableSoftDelete,omitempty"`
	SoftDeleteRetentionInDays    *int               `json:"softDeleteRetentionInDays,omitempty"`
	EnableRbacAuthorization      *bool              `json:"enableRbacAuthorization,omitempty"`
	CreateMode                   string             `json:"createMode,omitempty"`
	EnablePurgeProtection        *bool              `json:"enablePurgeProtection,omitempty"`
	ProvisioningState            string             `json:"provisioningState,omitempty"`
	PublicNetworkAccess          string             `json:"publicNetworkAccess,omitempty"`
}

// putVaultRequest is VaultCreateOrUpdateParameters and VaultPatchParameters.
type putVaultRequest struct {
	Location   string             `json:"location"`
	Tags       *map[string]string `json:"tags"`
	Properties *vaultProperties   `json:"properties"`
}

func vaultResourceID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.KeyVault/vaults/" + name
}

func ptr[T any](v T) *T { return &v }

func unixRFC3339(t int64) string {
	if t == 0 {
		return ""
	}
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

func (h *Handler) vaultJSON(v *vault.Vault) vaultJSON {
	props := vaultProperties{
		TenantID: v.TenantID, SKU: &skuJSON{Family: "A", Name: v.SKU}, VaultURI: h.VaultURI(v.Name),
		AccessPolicies:           make([]accessPolicyJSON, 0, len(v.AccessPolicies)),
		EnabledForDeployment:     ptr(v.EnabledForDeployment),
		EnabledForDiskEncryption: ptr(v.EnabledForDiskEncryption), EnabledForTemplateDeployment: ptr(v.EnabledForTemplateDeployment),
		EnableSoftDelete: ptr(true), SoftDeleteRetentionInDays: ptr(v.RetentionDays),
		EnableRbacAuthorization: ptr(v.RBAC), ProvisioningState: "Succeeded", PublicNetworkAccess: v.PublicNetworkAccess,
	}
	if v.PurgeProtection {
		props.EnablePurgeProtection = ptr(true)
	}
	if props.PublicNetworkAccess == "" {
		props.PublicNetworkAccess = "Enabled"
	}
	for _, p := range v.AccessPolicies {
		props.AccessPolicies = append(props.AccessPolicies, policyJSON(p))
	}
	tags := v.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return vaultJSON{
		ID: vaultResourceID(v.SubscriptionID, v.ResourceGroup, v.Name), Name: v.Name, Type: "Microsoft.KeyVault/vaults",
		Location: v.Location, Tags: tags, Properties: props,
		SystemData: &systemData{
			CreatedBy: v.CreatedBy, CreatedByType: "Application", CreatedAt: unixRFC3339(v.Created),
			LastModifiedBy: v.UpdatedBy, LastModifiedByType: "Application", LastModifiedAt: unixRFC3339(v.Updated),
		},
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func policyJSON(p vault.AccessPolicy) accessPolicyJSON {
	return accessPolicyJSON{TenantID: p.TenantID, ObjectID: p.ObjectID, ApplicationID: p.ApplicationID,
		Permissions: permissionsJSON{Keys: orEmpty(p.Permissions.Keys), Secrets: orEmpty(p.Permissions.Secrets),
			Certificates: orEmpty(p.Permissions.Certificates), Storage: p.Permissions.Storage}}
}

func policiesFromJSON(in []accessPolicyJSON) []vault.AccessPolicy {
	out := make([]vault.AccessPolicy, 0, len(in))
	for _, p := range in {
		out = append(out, vault.AccessPolicy{TenantID: p.TenantID, ObjectID: p.ObjectID, ApplicationID: p.ApplicationID,
			Permissions: vault.Permissions{Keys: p.Permissions.Keys, Secrets: p.Permissions.Secrets,
				Certificates: p.Permissions.Certificates, Storage: p.Permissions.Storage}})
	}
	return out
}

// serveVaults routes .../resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/... (rest
// excludes the prefix).
func (h *Handler) serveVaults(q *request, rest []string) {
	sub, rg := q.segs[1], q.segs[3]
	switch {
	case len(rest) == 0 && q.r.Method == http.MethodGet:
		h.listVaults(q, rg)
	case len(rest) == 1:
		name := rest[0]
		switch q.r.Method {
		case http.MethodPut:
			h.putVault(q, sub, rg, name, false)
		case http.MethodPatch:
			h.putVault(q, sub, rg, name, true)
		case http.MethodGet:
			h.getVault(q, sub, rg, name)
		case http.MethodDelete:
			h.deleteVault(q, sub, rg, name)
		default:
			methodNotAllowed(q)
		}
	case len(rest) == 3 && strings.EqualFold(rest[1], "accessPolicies") && q.r.Method == http.MethodPut:
		h.updateAccessPolicies(q, sub, rg, rest[0], rest[2])
	default:
		writeError(q.w, http.StatusNotFound, "InvalidResourceType", "The resource path '"+q.r.URL.Path+"' is not served by this server.")
	}
}

func (h *Handler) putVault(q *request, sub, rg, name string, patch bool) {
	resource := vaultResourceID(sub, rg, name)
	if !h.allow(q, resource, authz.ActionVaultWrite) {
		return
	}
	var body putVaultRequest
	if !decode(q, &body) {
		return
	}
	ctx := q.r.Context()
	var set vault.VaultSettings
	existing, err := h.Vaults.GetVaultIn(ctx, sub, rg, name)
	switch {
	case err == nil:
		set = vault.SettingsOf(existing)
	case patch:
		h.fail(q, err)
		return
	case !vault.IsKind(err, vault.KindNotFound):
		h.fail(q, err)
		return
	default:
		audit.SetSuccessStatus(ctx, http.StatusCreated)
		if body.Properties == nil || body.Properties.SKU == nil || body.Properties.TenantID == "" {
			writeError(q.w, http.StatusBadRequest, "BadRequest", "A new vault needs properties.tenantId and properties.sku.")
			return
		}
		set = vault.VaultSettings{Location: "local", PublicNetworkAccess: "Enabled"}
	}
	if !patch && body.Location != "" {
		set.Location = body.Location
	}
	if body.Tags != nil {
		set.Tags = *body.Tags
	}
	recover := false
	if p := body.Properties; p != nil {
		recover = strings.EqualFold(p.CreateMode, "recover")
		applyProperties(&set, p, patch)
	}
	if !recover && existing == nil {
		if _, _, err := h.Vaults.EnsureResourceGroup(ctx, sub, rg, set.Location, nil); err != nil {
			h.fail(q, err)
			return
		}
	}
	v, created, err := h.Vaults.PutVault(ctx, sub, rg, name, set, recover, q.caller.ObjectID)
	if err != nil {
		h.fail(q, err)
		return
	}
	h.Log.Info("vault written", "vault", v.Name, "subscription", sub, "resourceGroup", rg, "created", created, "by", q.caller.ObjectID)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(q.w, status, h.vaultJSON(v))
}

// applyProperties copies the properties a request sets into set.
func applyProperties(set *vault.VaultSettings, p *vaultProperties, patch bool) {
	if p.TenantID != "" {
		set.TenantID = p.TenantID
	}
	if p.SKU != nil {
		set.SKU = p.SKU.Name
	}
	if p.AccessPolicies != nil || !patch {
		set.AccessPolicies = policiesFromJSON(p.AccessPolicies)
	}
	if p.EnabledForDeployment != nil {
		set.EnabledForDeployment = *p.EnabledForDeployment
	}
	if p.EnabledForDiskEncryption != nil {
		set.EnabledForDiskEncryption = *p.EnabledForDiskEncryption
	}
	if p.EnabledForTemplateDeployment != nil {
		set.EnabledForTemplateDeployment = *p.EnabledForTemplateDeployment
	}
	if p.EnableSoftDelete != nil {
		set.SoftDeleteDisabled = !*p.EnableSoftDelete
	}
	if p.SoftDeleteRetentionInDays != nil {
		set.RetentionDays = *p.SoftDeleteRetentionInDays
	}
	if p.EnableRbacAuthorization != nil {
		set.RBAC = *p.EnableRbacAuthorization
	}
	if p.EnablePurgeProtection != nil {
		set.PurgeProtection = *p.EnablePurgeProtection
	}
	if p.PublicNetworkAccess != "" {
		set.PublicNetworkAccess = p.PublicNetworkAccess
	}
}

func (h *Handler) getVault(q *request, sub, rg, name string) {
	if !h.allow(q, vaultResourceID(sub, rg, name), authz.ActionVaultRead) {
		return
	}
	v, err := h.Vaults.GetVaultIn(q.r.Context(), sub, rg, name)
	if err != nil {
		h.fail(q, err)
		return
	}
	writeJSON(q.w, http.StatusOK, h.vaultJSON(v))
}

func (h *Handler) deleteVault(q *request, sub, rg, name string) {
	resource := vaultResourceID(sub, rg, name)
	if !h.allow(q, resource, authz.ActionVaultDelete) {
		return
	}
	ctx := q.r.Context()
	err := h.Vaults.DeleteVault(ctx, sub, rg, name)
	if vault.IsKind(err, vault.KindNotFound) {
		q.w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		h.fail(q, err)
		return
	}
	// Azure does not keep role assignments of a deleted vault.
	if err := h.Authz.DeleteBelow(ctx, resource); err != nil {
		h.Log.Error("removing role assignments of a deleted vault failed", "vault", name, "error", err)
	}
	h.Log.Info("vault soft-deleted", "vault", name, "by", q.caller.ObjectID)
	q.w.WriteHeader(http.StatusOK)
}

func (h *Handler) updateAccessPolicies(q *request, sub, rg, name, kind string) {
	resource := vaultResourceID(sub, rg, name)
	if !h.allow(q, resource, authz.ActionAccessPolicyWrite) {
		return
	}
	var body struct {
		Properties struct {
			AccessPolicies []accessPolicyJSON `json:"accessPolicies"`
		} `json:"properties"`
	}
	if !decode(q, &body) {
		return
	}
	edit := vault.AccessPolicyEdit(strings.ToLower(kind))
	v, err := h.Vaults.UpdateAccessPolicies(q.r.Context(), sub, rg, name, edit, policiesFromJSON(body.Properties.AccessPolicies), q.caller.ObjectID)
	if err != nil {
		h.fail(q, err)
		return
	}
	h.Log.Info("vault access policies changed", "vault", v.Name, "operation", edit, "by", q.caller.ObjectID)
	out := struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Type       string `json:"type"`
		Properties struct {
			AccessPolicies []accessPolicyJSON `json:"accessPolicies"`
		} `json:"properties"`
	}{ID: resource + "/accessPolicies/" + string(edit), Name: string(edit), Type: "Microsoft.KeyVault/vaults/accessPolicies"}
	out.Properties.AccessPolicies = h.vaultJSON(v).Properties.AccessPolicies
	writeJSON(q.w, http.StatusOK, out)
}

func (h *Handler) listVaults(q *request, rg string) {
	sub := q.segs[1]
	scope := "/subscriptions/" + sub
	if rg != "" {
		scope += "/resourceGroups/" + rg
	}
	if !h.allow(q, scope, authz.ActionVaultRead) {
		return
	}
	vaults, err := h.Vaults.ListVaults(q.r.Context(), sub, rg)
	if err != nil {
		h.fail(q, err)
		return
	}
	vaults, next, ok := page(q, vaults, (*vault.Vault).ID) // ListVaults sorts by ID
	if !ok {
		return
	}
	out := struct {
		Value    []vaultJSON `json:"value"`
		NextLink string      `json:"nextLink,omitempty"`
	}{Value: make([]vaultJSON, 0, len(vaults)), NextLink: next}
	for _, v := range vaults {
		out.Value = append(out.Value, h.vaultJSON(v))
	}
	writeJSON(q.w, http.StatusOK, out)
}

// listResources serves the generic resource list that armkeyvault's
// NewListPager reads, filtered to vaults.
func (h *Handler) listResources(q *request) {
	sub := q.segs[1]
	if !h.allow(q, "/subscriptions/"+sub, authz.ActionVaultRead) {
		return
	}
	filter := strings.Join(strings.Fields(q.r.URL.Query().Get("$filter")), " ")
	if filter != "" && !strings.EqualFold(filter, "resourceType eq 'Microsoft.KeyVault/vaults'") {
		writeError(q.w, http.StatusBadRequest, "InvalidFilter", "Only $filter=resourceType eq 'Microsoft.KeyVault/vaults' is supported.")
		return
	}
	vaults, err := h.Vaults.ListVaults(q.r.Context(), sub, "")
	if err != nil {
		h.fail(q, err)
		return
	}
	vaults, next, ok := page(q, vaults, (*vault.Vault).ID) // ListVaults sorts by ID
	if !ok {
		return
	}
	type resource struct {
		ID       string            `json:"id"`
		Name     string            `json:"name"`
		Type     string            `json:"type"`
		Location string            `json:"location"`
		Tags     map[string]string `json:"tags"`
	}
	out := struct {
		Value    []resource `json:"value"`
		NextLink string     `json:"nextLink,omitempty"`
	}{Value: []resource{}, NextLink: next}
	for _, v := range vaults {
		j := h.vaultJSON(v)
		out.Value = append(out.Value, resource{ID: j.ID, Name: j.Name, Type: j.Type, Location: j.Location, Tags: j.Tags})
	}
	writeJSON(q.w, http.StatusOK, out)
}

type deletedVaultJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		VaultID                string            `json:"vaultId"`
		Location               string            `json:"location"`
		DeletionDate           string            `json:"deletionDate"`
		ScheduledPurgeDate     string            `json:"scheduledPurgeDate"`
		Tags                   map[string]string `json:"tags,omitempty"`
		PurgeProtectionEnabled bool              `json:"purgeProtectionEnabled"`
	} `json:"properties"`
}

func deletedJSON(v *vault.Vault) deletedVaultJSON {
	var d deletedVaultJSON
	d.ID = "/subscriptions/" + v.SubscriptionID + "/providers/Microsoft.KeyVault/locations/" + v.Location + "/deletedVaults/" + v.Name
	d.Name, d.Type = v.Name, "Microsoft.KeyVault/deletedVaults"
	d.Properties.VaultID = vaultResourceID(v.SubscriptionID, v.ResourceGroup, v.Name)
	d.Properties.Location, d.Properties.Tags = v.Location, v.Tags
	d.Properties.DeletionDate, d.Properties.ScheduledPurgeDate = unixRFC3339(v.DeletedDate), unixRFC3339(v.ScheduledPurgeDate)
	d.Properties.PurgeProtectionEnabled = v.PurgeProtection
	return d
}

func (h *Handler) listDeletedVaults(q *request) {
	sub := q.segs[1]
	if !h.allow(q, "/subscriptions/"+sub, authz.ActionDeletedVaultRead) {
		return
	}
	vaults, err := h.Vaults.ListDeletedVaults(q.r.Context(), sub)
	if err != nil {
		h.fail(q, err)
		return
	}
	out := struct {
		Value []deletedVaultJSON `json:"value"`
	}{Value: []deletedVaultJSON{}}
	for _, v := range vaults {
		out.Value = append(out.Value, deletedJSON(v))
	}
	writeJSON(q.w, http.StatusOK, out)
}

func (h *Handler) getDeletedVault(q *request, name string) {
	sub := q.segs[1]
	if !h.allow(q, "/subscriptions/"+sub, authz.ActionDeletedVaultRead) {
		return
	}
	v, err := h.Vaults.GetDeletedVault(q.r.Context(), sub, name)
	if err != nil {
		h.fail(q, err)
		return
	}
	writeJSON(q.w, http.StatusOK, deletedJSON(v))
}

func (h *Handler) purgeDeletedVault(q *request, name string) {
	sub := q.segs[1]
	if q.r.Method != http.MethodPost {
		methodNotAllowed(q)
		return
	}
	if !h.allow(q, "/subscriptions/"+sub, authz.ActionDeletedVaultPurge) {
		return
	}
	if err := h.Vaults.PurgeDeletedVault(q.r.Context(), sub, name); err != nil {
		h.fail(q, err)
		return
	}
	h.Log.Info("deleted vault purged", "vault", name, "by", q.caller.ObjectID)
	q.w.WriteHeader(http.StatusOK)
}

func (h *Handler) checkNameAvailability(q *request) {
	sub := q.segs[1]
	if q.r.Method != http.MethodPost {
		methodNotAllowed(q)
		return
	}
	if !h.allow(q, "/subscriptions/"+sub, authz.ActionCheckName) {
		return
	}
	var body struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if !decode(q, &body) {
		return
	}
	if !strings.EqualFold(body.Type, "Microsoft.KeyVault/vaults") {
		writeError(q.w, http.StatusBadRequest, "InvalidResourceType", "type must be Microsoft.KeyVault/vaults.")
		return
	}
	ok, reason, message, err := h.Vaults.VaultNameAvailable(q.r.Context(), body.Name)
	if err != nil {
		h.fail(q, err)
		return
	}
	out := map[string]any{"nameAvailable": ok}
	if !ok {
		out["reason"], out["message"] = reason, message
	}
	writeJSON(q.w, http.StatusOK, out)
}

func (h *Handler) subscriptionJSON(sub string) map[string]any {
	return map[string]any{
		"id": "/subscriptions/" + sub, "subscriptionId": sub, "tenantId": h.TenantID,
		"displayName": "KeyVault", "state": "Enabled",
		"subscriptionPolicies": map[string]any{"locationPlacementId": "Public_2014-09-01", "quotaId": "KeyVault", "spendingLimit": "Off"},
		"authorizationSource":  "RoleBased",
	}
}

// listSubscriptions returns the default subscription, which az login reads.
func (h *Handler) listSubscriptions(q *request) {
	writeJSON(q.w, http.StatusOK, map[string]any{"value": []any{h.subscriptionJSON(h.SubscriptionID)}})
}

func (h *Handler) getSubscription(q *request) {
	writeJSON(q.w, http.StatusOK, h.subscriptionJSON(q.segs[1]))
}

func groupJSON(g *vault.ResourceGroup) map[string]any {
	tags := g.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return map[string]any{
		"id": "/subscriptions/" + g.SubscriptionID + "/resourceGroups/" + g.Name, "name": g.Name,
		"type": "Microsoft.Resources/resourceGroups", "location": g.Location, "tags": tags,
		"properties": map[string]string{"provisioningState": "Succeeded"},
	}
}

func (h *Handler) listResourceGroups(q *request) {
	groups, err := h.Vaults.ListResourceGroups(q.r.Context(), q.segs[1])
	if err != nil {
		h.fail(q, err)
		return
	}
	out := []any{}
	for _, g := range groups {
		out = append(out, groupJSON(g))
	}
	writeJSON(q.w, http.StatusOK, map[string]any{"value": out})
}

func (h *Handler) serveResourceGroup(q *request) {
	sub, rg := q.segs[1], q.segs[3]
	switch q.r.Method {
	case http.MethodGet:
		g, err := h.Vaults.GetResourceGroup(q.r.Context(), sub, rg)
		if err != nil {
			h.fail(q, err)
			return
		}
		writeJSON(q.w, http.StatusOK, groupJSON(g))
	case http.MethodPut:
		if !h.allow(q, "/subscriptions/"+sub+"/resourceGroups/"+rg, authz.ActionVaultWrite) {
			return
		}
		var body struct {
			Location string             `json:"location"`
			Tags     *map[string]string `json:"tags"`
		}
		if !decode(q, &body) {
			return
		}
		var tags map[string]string
		if body.Tags != nil {
			tags = *body.Tags
		}
		if _, err := h.Vaults.GetResourceGroup(q.r.Context(), sub, rg); err == nil {
			audit.SetSuccessStatus(q.r.Context(), http.StatusOK)
		}
		g, created, err := h.Vaults.EnsureResourceGroup(q.r.Context(), sub, rg, body.Location, tags)
		if err != nil {
			h.fail(q, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		writeJSON(q.w, status, groupJSON(g))
	default:
		methodNotAllowed(q)
	}
}
