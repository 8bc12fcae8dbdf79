package api

import (
	"net/http"
	"strings"
)

// OperationName returns the audit operation name of a data-plane request,
// as Azure's AuditEvent records name it (SecretGet, KeySign, ...), and the
// status of its success response. segs are the path segments, starting
// with the collection.
func OperationName(method string, segs []string) (string, int) {
	if len(segs) > 0 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	if len(segs) == 0 {
		return "Unknown", http.StatusOK
	}
	n := len(segs)
	at := func(i int) string {
		if i < n {
			return strings.ToLower(segs[i])
		}
		return ""
	}
	switch at(0) {
	case "secrets":
		return objectOperation("Secret", method, segs)
	case "keys":
		if n == 4 || (n == 3 && operationNames[at(2)] != "") {
			return keyOperationName(at(n - 1)), http.StatusOK
		}
		if n == 3 && at(2) == "rotate" {
			return "KeyRotate", http.StatusOK
		}
		if n == 3 && at(2) == "rotationpolicy" {
			if method == http.MethodGet {
				return "KeyRotationPolicyGet", http.StatusOK
			}
			return "KeyRotationPolicySet", http.StatusOK
		}
		if n == 3 && at(2) == "create" {
			return "KeyCreate", http.StatusOK
		}
		if n == 2 && method == http.MethodPut {
			return "KeyImport", http.StatusOK
		}
		return objectOperation("Key", method, segs)
	case "certificates":
		return certificateOperation(method, segs)
	case "deletedsecrets":
		return deletedOperation("Secret", method, n)
	case "deletedkeys":
		return deletedOperation("Key", method, n)
	case "deletedcertificates":
		return deletedOperation("Certificate", method, n)
	case "rng":
		return "KeyRandomBytes", http.StatusOK
	}
	return "Unknown", http.StatusOK
}

func keyOperationName(op string) string {
	switch op {
	case "encrypt":
		return "KeyEncrypt"
	case "decrypt":
		return "KeyDecrypt"
	case "wrapkey":
		return "KeyWrap"
	case "unwrapkey":
		return "KeyUnwrap"
	case "sign":
		return "KeySign"
	case "verify":
		return "KeyVerify"
	}
	return "KeyOperation"
}

// objectOperation names the operations every object family shares.
func objectOperation(family, method string, segs []string) (string, int) {
	n := len(segs)
	last := strings.ToLower(segs[n-1])
	switch {
	case n == 1:
		return family + "List", http.StatusOK
	case n == 2 && method == http.MethodPost && last == "restore":
		return family + "Restore", http.StatusOK
	case n == 3 && last == "versions":
		return family + "ListVersions", http.StatusOK
	case n == 3 && last == "backup":
		return family + "Backup", http.StatusOK
	case method == http.MethodPut:
		return family + "Set", http.StatusOK
	case method == http.MethodPatch:
		return family + "Update", http.StatusOK
	case method == http.MethodDelete:
		return family + "Delete", http.StatusOK
	}
	return family + "Get", http.StatusOK
}

func deletedOperation(family, method string, n int) (string, int) {
	switch {
	case n == 1:
		return family + "ListDeleted", http.StatusOK
	case method == http.MethodDelete:
		return family + "Purge", http.StatusNoContent
	case method == http.MethodPost:
		return family + "Recover", http.StatusOK
	}
	return family + "GetDeleted", http.StatusOK
}

func certificateOperation(method string, segs []string) (string, int) {
	n := len(segs)
	at := func(i int) string {
		if i < n {
			return strings.ToLower(segs[i])
		}
		return ""
	}
	switch {
	case at(1) == "contacts":
		switch method {
		case http.MethodGet:
			return "CertificateContactsGet", http.StatusOK
		case http.MethodDelete:
			return "CertificateContactsDelete", http.StatusOK
		}
		return "CertificateContactsSet", http.StatusOK
	case at(1) == "issuers" && n == 2:
		return "CertificateIssuersList", http.StatusOK
	case at(1) == "issuers":
		switch method {
		case http.MethodGet:
			return "CertificateIssuerGet", http.StatusOK
		case http.MethodPatch:
			return "CertificateIssuerUpdate", http.StatusOK
		case http.MethodDelete:
			return "CertificateIssuerDelete", http.StatusOK
		}
		return "CertificateIssuerSet", http.StatusOK
	case n == 3 && at(2) == "create":
		return "CertificateCreate", http.StatusAccepted
	case n == 3 && at(2) == "import":
		return "CertificateImport", http.StatusOK
	case n == 3 && at(2) == "policy":
		if method == http.MethodGet {
			return "CertificatePolicyGet", http.StatusOK
		}
		return "CertificatePolicyUpdate", http.StatusOK
	case n == 4 && at(3) == "merge":
		return "CertificatePendingMerge", http.StatusCreated
	case n == 3 && at(2) == "pending":
		switch method {
		case http.MethodGet:
			return "CertificatePendingGet", http.StatusOK
		case http.MethodDelete:
			return "CertificatePendingDelete", http.StatusOK
		}
		return "CertificatePendingUpdate", http.StatusOK
	}
	return objectOperation("Certificate", method, segs)
}
