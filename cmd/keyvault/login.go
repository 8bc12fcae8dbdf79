package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/spf13/cobra"

	"github.com/keyvault/keyvault/internal/server"
)

// profile is a saved connection to a server: the address the client dials,
// the identity it signs in as and the files it reads. It contains no secret,
// because the client secret stays in the credentials file it names.
type profile struct {
	// Server is the host:port that every connection dials, whatever host
	// name its URL has.
	Server          string `json:"server"`
	TenantID        string `json:"tenantId"`
	ClientID        string `json:"clientId"`
	CredentialsFile string `json:"credentialsFile"`
	// CAFile is empty when the system's CA pool verifies the server.
	CAFile    string `json:"caFile,omitempty"`
	DNSSuffix string `json:"dnsSuffix"`
}

// apply returns creds signed in as the profile's tenant and client. The
// file's client secret is kept only when the profile's client is the
// file's.
func (p *profile) apply(creds server.CredentialsJSON) server.CredentialsJSON {
	if p.ClientID != creds.ClientID {
		creds.ClientSecret = ""
	}
	creds.TenantID, creds.ClientID = p.TenantID, p.ClientID
	return creds
}

// profileStore is the content of profiles.json.
type profileStore struct {
	// Current names the profile of the last login, which client commands
	// use when no --profile is given.
	Current  string              `json:"current"`
	Profiles map[string]*profile `json:"profiles"`
}

// profilesPath returns the profiles file,
// os.UserConfigDir()/keyvault/profiles.json.
func profilesPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config directory for profiles: %w", err)
	}
	return filepath.Join(dir, "keyvault", "profiles.json"), nil
}

// loadProfiles reads the profiles file; a missing file is an empty store.
func loadProfiles(path string) (*profileStore, error) {
	st := &profileStore{Profiles: map[string]*profile{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("profiles file %s: %w (delete it and run keyvault login again)", path, err)
	}
	if st.Profiles == nil {
		st.Profiles = map[string]*profile{}
	}
	return st, nil
}

// save writes the store atomically with mode 0600, in a directory of mode
// 0700.
func (st *profileStore) save(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create profiles directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict profiles directory: %w", err)
	}
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}

	// Write a temporary file and rename it, so a reader never sees half a file.
	tmp, err := os.CreateTemp(dir, ".profiles-*.json") // mode 0600
	if err != nil {
		return fmt.Errorf("write profiles: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write profiles: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write profiles: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write profiles: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write profiles: %w", err)
	}
	return nil
}

// findProfile returns the named profile, or the current one when name is
// empty. It returns nil when name is empty and no login has been made.
func findProfile(name string) (*profile, error) {
	path, err := profilesPath()
	if err != nil {
		if name == "" {
			return nil, nil
		}
		return nil, err
	}
	st, err := loadProfiles(path)
	if err != nil {
		return nil, err
	}
	explicit := name != ""
	if !explicit {
		name = st.Current
	}
	if name == "" {
		return nil, nil
	}
	p := st.Profiles[name]
	if p == nil && explicit {
		return nil, usageError{fmt.Errorf("no profile %q in %s (saved: %s): run keyvault login --profile %s first",
			name, path, strings.Join(st.profileNames(), ", "), name)}
	}
	if p == nil {
		return nil, fmt.Errorf("the current profile %q is missing from %s: run keyvault login again", name, path)
	}
	return p, nil
}

type loginOptions struct {
	conn        clientOptions
	profileName string
	server      string
}

// loginResult is the output of keyvault login.
type loginResult struct {
	Profile      string `json:"profile"`
	ProfilesFile string `json:"profilesFile"`
	profile
}

func newLoginCommand() *cobra.Command {
	o := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login [--credentials FILE] [--profile NAME]",
		Short: "Sign in once and save a profile that later client commands use",
		Long: `Sign in with the credentials file of keyvault serve (or the principal of the
AZURE_* environment variables) and save a profile in the user's config
directory (keyvault/profiles.json, mode 0600): the server address, tenant,
client id, DNS suffix of vault host names, and the paths of the credentials
file and the CA file. The profile holds no secret: the client secret is read
from the credentials file at each command.

Client commands run without --credentials use the profile of the last login,
or the one named by --profile. AZURE_TENANT_ID, AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH still override the
identity. Run login again after the server moves to another port.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	fs := cmd.Flags()
	o.conn.addConnectionFlags(fs)
	fs.StringVar(&o.profileName, "profile", "default", "name of the profile to save; it becomes the current profile")
	fs.StringVar(&o.server, "server", "", "host:port to dial for every request (default: the address in the credentials file)")
	o.conn.addOutputFlags(fs)
	return cmd
}

func (o *loginOptions) run(cmd *cobra.Command) error {
	if o.profileName == "" {
		return usageError{errors.New("--profile must not be empty")}
	}
	if o.server != "" {
		if _, _, err := net.SplitHostPort(o.server); err != nil {
			return usageError{fmt.Errorf("invalid --server %q: want host:port", o.server)}
		}
	}
	t, err := o.conn.resolveTarget(cmd, false)
	if err != nil {
		return err
	}
	p, err := o.newProfile(t.credentialsFile)
	if err != nil {
		return err
	}
	t.caFile, t.profile = p.CAFile, p

	// Sign in through the profile's routes, as later commands will.
	s, err := o.conn.connectTarget(cmd, t)
	if err != nil {
		return err
	}
	if _, err := s.cred.GetToken(cmd.Context(), policy.TokenRequestOptions{Scopes: []string{s.vaultScope}}); err != nil {
		return explain(err)
	}
	p.TenantID, p.ClientID = s.tenantID, s.clientID

	path, err := profilesPath()
	if err != nil {
		return err
	}
	st, err := loadProfiles(path)
	if err != nil {
		return err
	}
	st.Profiles[o.profileName] = p
	st.Current = o.profileName
	if err := st.save(path); err != nil {
		return err
	}
	out := loginResult{Profile: o.profileName, ProfilesFile: path, profile: *p}
	return s.printer.printValue(out, []column{{"Profile", "profile"}, {"Server", "server"}, {"TenantId", "tenantId"},
		{"ClientId", "clientId"}, {"DnsSuffix", "dnsSuffix"}})
}

// newProfile builds a profile from a credentials file and the flags, with
// absolute file paths.
func (o *loginOptions) newProfile(credsPath string) (*profile, error) {
	creds, err := loadCredentials(credsPath)
	if err != nil {
		return nil, err
	}
	credsAbs, err := filepath.Abs(credsPath)
	if err != nil {
		return nil, err
	}
	p := &profile{Server: o.server, TenantID: creds.TenantID, ClientID: creds.ClientID, CredentialsFile: credsAbs}
	if p.Server == "" {
		authority, err := parseURL(creds.AuthorityHost)
		if err != nil {
			return nil, fmt.Errorf("credentials file %s: authorityHost: %w", credsPath, err)
		}
		p.Server = hostPort(authority)
	}
	resource, err := parseURL(creds.Resource)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: resource: %w (restart keyvault serve to rewrite it)", credsPath, err)
	}
	p.DNSSuffix = resource.Hostname()
	if ca := o.conn.caFilePath(credsPath, ""); ca != "" {
		if p.CAFile, err = filepath.Abs(ca); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// profileNames returns the saved profile names in order, for messages.
func (st *profileStore) profileNames() []string {
	names := make([]string, 0, len(st.Profiles))
	for n := range st.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// parseURL parses an absolute URL with a host.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not a URL", raw)
	}
	return u, nil
}
