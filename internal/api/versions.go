package api

// LatestAPIVersion is the newest data-plane api-version this server speaks.
const LatestAPIVersion = "2026-04-01"

// apiVersions are the api-version values accepted: every GA data-plane
// version of the published REST API and the previews that current SDKs send
// (Python's keys client sends 7.4-preview.1). The wire format of secrets is
// the same in all of them.
var apiVersions = map[string]bool{
	"2015-06-01": true, "2016-10-01": true,
	"7.0": true, "7.1": true, "7.2": true, "7.3": true, "7.4": true, "7.5": true, "7.6": true,
	"7.1-preview": true, "7.2-preview": true, "7.3-preview": true, "7.4-preview.1": true,
	"7.5-preview.1": true, "7.6-preview.1": true, "7.6-preview.2": true,
	"2025-06-01": true, "2025-06-01-preview": true, "2025-07-01": true,
	"2026-01-01-preview": true, "2026-03-01-preview": true, "2026-04-01": true,
	"2026-05-01-preview": true, "2026-07-01-preview": true,
}

// CheckAPIVersion validates the api-version query parameter.
func CheckAPIVersion(v string) error {
	if v == "" {
		return badRequest("The api-version query parameter is missing. Add api-version=" + LatestAPIVersion + " (or another supported version) to the query string.")
	}
	if !apiVersions[v] {
		return badRequest("The specified version (" + v + ") is not recognized. Consider using the latest supported version (" + LatestAPIVersion + ").")
	}
	return nil
}
