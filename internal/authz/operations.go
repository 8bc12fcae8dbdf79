// Package authz decides whether a caller may perform an operation. On the
// data plane it checks a vault's access policies or, for vaults that use it,
// Azure role-based access control: role assignments of built-in roles at
// subscription, resource group, vault or object scope. On the management
// plane it checks role assignments of control-plane roles. The administrator
// may do everything.
package authz

// Operation is a data-plane operation as both permission models name it.
type Operation struct {
	Name       string // for messages, such as "secrets get"
	Family     string // access-policy family: keys, secrets or certificates
	Permission string // access-policy permission, such as get or wrapKey
	DataAction string // RBAC data action
}

func op(family, permission, dataAction string) Operation {
	return Operation{Name: family + " " + permission, Family: family, Permission: permission,
		DataAction: "Microsoft.KeyVault/vaults/" + dataAction}
}

// Data-plane operations of secrets. Reading deleted secrets needs list, and
// updating a secret's attributes needs set, as Azure documents them.
var (
	SecretGet     = op("secrets", "get", "secrets/getSecret/action")
	SecretList    = op("secrets", "list", "secrets/readMetadata/action")
	SecretSet     = op("secrets", "set", "secrets/setSecret/action")
	SecretUpdate  = op("secrets", "set", "secrets/update/action")
	SecretDelete  = op("secrets", "delete", "secrets/delete")
	SecretRecover = op("secrets", "recover", "secrets/recover/action")
	SecretPurge   = op("secrets", "purge", "secrets/purge/action")
	SecretBackup  = op("secrets", "backup", "secrets/backup/action")
	SecretRestore = op("secrets", "restore", "secrets/restore/action")
)

// Data-plane operations of keys.
var (
	KeyCreate            = op("keys", "create", "keys/create/action")
	KeyImport            = op("keys", "import", "keys/import/action")
	KeyGet               = op("keys", "get", "keys/read")
	KeyList              = op("keys", "list", "keys/read")
	KeyUpdate            = op("keys", "update", "keys/update/action")
	KeyDelete            = op("keys", "delete", "keys/delete")
	KeyRecover           = op("keys", "recover", "keys/recover/action")
	KeyPurge             = op("keys", "purge", "keys/purge/action")
	KeyBackup            = op("keys", "backup", "keys/backup/action")
	KeyRestore           = op("keys", "restore", "keys/restore/action")
	KeyEncrypt           = op("keys", "encrypt", "keys/encrypt/action")
	KeyDecrypt           = op("keys", "decrypt", "keys/decrypt/action")
	KeyWrap              = op("keys", "wrapKey", "keys/wrap/action")
	KeyUnwrap            = op("keys", "unwrapKey", "keys/unwrap/action")
	KeySign              = op("keys", "sign", "keys/sign/action")
	KeyVerify            = op("keys", "verify", "keys/verify/action")
	KeyRotate            = op("keys", "rotate", "keys/rotate/action")
	KeyGetRotationPolicy = op("keys", "getrotationpolicy", "keyrotationpolicies/read")
	KeySetRotationPolicy = op("keys", "setrotationpolicy", "keyrotationpolicies/write")
)

// Control-plane actions checked on the management API.
const (
	ActionVaultRead           = "Microsoft.KeyVault/vaults/read"
	ActionVaultWrite          = "Microsoft.KeyVault/vaults/write"
	ActionVaultDelete         = "Microsoft.KeyVault/vaults/delete"
	ActionAccessPolicyWrite   = "Microsoft.KeyVault/vaults/accessPolicies/write"
	ActionDeletedVaultRead    = "Microsoft.KeyVault/deletedVaults/read"
	ActionDeletedVaultPurge   = "Microsoft.KeyVault/locations/deletedVaults/purge/action"
	ActionCheckName           = "Microsoft.KeyVault/checkNameAvailability/read"
	ActionRoleAssignmentRead  = "Microsoft.Authorization/roleAssignments/read"
	ActionRoleAssignmentWrite = "Microsoft.Authorization/roleAssignments/write"
	ActionRoleAssignmentDel   = "Microsoft.Authorization/roleAssignments/delete"
	ActionResourcesRead       = "Microsoft.Resources/subscriptions/resources/read"
)

// Data-plane operations of certificates. Reading a pending request needs
// get, cancelling it update, and merging it create.
var (
	CertGet            = op("certificates", "get", "certificates/read")
	CertList           = op("certificates", "list", "certificates/read")
	CertCreate         = op("certificates", "create", "certificates/create/action")
	CertImport         = op("certificates", "import", "certificates/import/action")
	CertUpdate         = op("certificates", "update", "certificates/update/action")
	CertDelete         = op("certificates", "delete", "certificates/delete")
	CertRecover        = op("certificates", "recover", "certificates/recover/action")
	CertPurge          = op("certificates", "purge", "certificates/purge/action")
	CertBackup         = op("certificates", "backup", "certificates/backup/action")
	CertRestore        = op("certificates", "restore", "certificates/restore/action")
	CertManageContacts = op("certificates", "managecontacts", "certificatecontacts/write")
	CertGetIssuers     = op("certificates", "getissuers", "certificatecas/read")
	CertListIssuers    = op("certificates", "listissuers", "certificatecas/read")
	CertSetIssuers     = op("certificates", "setissuers", "certificatecas/write")
	CertDeleteIssuers  = op("certificates", "deleteissuers", "certificatecas/delete")
)
