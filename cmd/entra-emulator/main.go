// Command entra-emulator serves the local Entra ID + Microsoft Graph
// emulator (package emulator) over HTTPS, so the web app's sign-in flow runs
// offline. It is a development tool, not Microsoft.
//
//	go run ./cmd/entra-emulator               # https://127.0.0.1:5001, the demo tenant
//	go run ./cmd/entra-emulator -external-id  # the same as an External ID tenant
//	go run ./cmd/entra-emulator -h            # every flag
package main

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/internal/httpsserver"
	"ms-identity-go-webapp/internal/logcap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "entra-emulator:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	addr         string
	allowRemote  bool
	tenant       string
	certFile     string
	keyFile      string
	clientID     string
	clientSecret string
	redirectURIs stringList
	logoutURL    string
	clientCerts  stringList
	federated    stringList
	appsFile     string
	singleApp    []string // the single-app flags given explicitly, which -apps replaces
	usersFile    string
	accessTTL    time.Duration
	idTTL        time.Duration
	refreshTTL   time.Duration
	codeTTL      time.Duration
	padding      bool
	consented    string
	externalID   bool
	subdomain    string
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ", ") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("entra-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: entra-emulator [flags]\n\nServes a local Entra ID + Microsoft Graph emulator (not Microsoft) over HTTPS.\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:5001", "listen `address` (loopback only, unless -allow-remote)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a non-loopback -addr (the emulator accepts anyone's sign-in: keep it off shared networks)")
	fs.StringVar(&o.tenant, "tenant", emulator.DefaultTenant, "tenant `ID` in every path")
	fs.StringVar(&o.certFile, "cert", "ssl/localhost.crt", "TLS certificate `file` (PEM)")
	fs.StringVar(&o.keyFile, "key", "ssl/localhost.key", "TLS private key `file` (PEM)")
	fs.StringVar(&o.clientID, "client-id", emulator.DemoClientID, "the registered app's client `ID`")
	fs.StringVar(&o.clientSecret, "client-secret", emulator.DemoClientSecret, "the registered app's client `secret`")
	fs.Var(&o.redirectURIs, "redirect-uri", "a registered redirect `URI`; repeat for several (replaces the defaults: "+strings.Join(emulator.DemoRedirectURIs, ", ")+")")
	fs.StringVar(&o.logoutURL, "front-channel-logout-url", "", "the registered app's front-channel logout `URL`, loaded with ?sid= when its user signs out of the emulator")
	fs.Var(&o.clientCerts, "client-cert", "a certificate `file` (PEM or DER, public part) uploaded to the app, for client assertions signed with its key; repeat for several")
	fs.Var(&o.federated, "federated-subject", "the `subject` of a federated credential trusting the emulator's workload issuer (https://{host}/workload-identity); repeat for several")
	fs.StringVar(&o.appsFile, "apps", "", "JSON `file` listing several app registrations, instead of the single-app flags -client-id, -client-secret, -redirect-uri, -front-channel-logout-url, -client-cert and -federated-subject: [{\"client_id\", \"client_secret\", \"redirect_uris\": [...], \"front_channel_logout_url\", \"client_certificates\": [PEM files], \"federated_subjects\": [...]}]")
	fs.StringVar(&o.usersFile, "users", "", "JSON `file` listing the accounts (default: alice@demo.test and admin@demo.test)")
	fs.DurationVar(&o.accessTTL, "access-token-ttl", time.Hour, "access token lifetime")
	fs.DurationVar(&o.idTTL, "id-token-ttl", time.Hour, "ID token lifetime")
	fs.DurationVar(&o.refreshTTL, "refresh-token-ttl", 24*time.Hour, "refresh token (and emulator session) lifetime")
	fs.DurationVar(&o.codeTTL, "code-ttl", 10*time.Minute, "authorization code lifetime")
	fs.BoolVar(&o.padding, "token-padding", false, "pad access and ID tokens to Entra-like sizes (1.5-2.5 KB)")
	fs.StringVar(&o.consented, "admin-consented", strings.Join(emulator.DefaultAdminConsented, ","), "Graph `permissions` an administrator consented to for every user, comma-separated (others need each user's consent; openid profile email offline_access never do; empty = none)")
	fs.BoolVar(&o.externalID, "external-id", false, "be a Microsoft Entra External ID tenant: its issuer https://{tenant-id}.ciamlogin.com/{tenant-id}/v2.0, and sign-up with prompt=create (the tenant must be a GUID)")
	fs.StringVar(&o.subdomain, "subdomain", "", "the External ID tenant's `subdomain`, {subdomain}.ciamlogin.com (default "+emulator.DefaultSubdomain+"; needs -external-id)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "client-id", "client-secret", "redirect-uri", "front-channel-logout-url", "client-cert", "federated-subject":
			o.singleApp = append(o.singleApp, "-"+f.Name)
		}
	})
	if o.subdomain != "" && !o.externalID {
		return o, errors.New("-subdomain names an External ID tenant: add -external-id")
	}
	if o.appsFile != "" && len(o.singleApp) > 0 {
		return o, fmt.Errorf("-apps lists every app registration: drop %s, or put it in the apps file", strings.Join(o.singleApp, " and "))
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if !o.allowRemote && !isLoopback(o.addr) {
		return fmt.Errorf("refusing to listen on %s, which is not a loopback address: the emulator signs anyone in; pass -allow-remote to do it anyway", o.addr)
	}
	cert, err := loadCertificate(o.certFile, o.keyFile)
	if err != nil {
		return err
	}
	var users []emulator.User // nil = the demo accounts
	if o.usersFile != "" {
		if users, err = emulator.LoadUsers(o.usersFile); err != nil {
			return err
		}
	}
	// -apps replaces the single-app flags (parseFlags refused both), whose
	// defaults name the demo app.
	var apps []emulator.App
	clientID, clientSecret := o.clientID, o.clientSecret
	if o.appsFile != "" {
		if apps, err = emulator.LoadApps(o.appsFile); err != nil {
			return err
		}
		clientID, clientSecret = "", ""
	}
	var clientCerts []*x509.Certificate
	for _, f := range o.clientCerts {
		certs, err := emulator.LoadCertificates(f)
		if err != nil {
			return fmt.Errorf("-client-cert: %w", err)
		}
		clientCerts = append(clientCerts, certs...)
	}
	// One line per request, kept readable whatever path a client sends.
	logger := slog.New(logcap.NewHandler(slog.NewTextHandler(stderr, nil), logcap.DefaultMax))
	em, err := emulator.New(emulator.Config{
		Tenant:                o.tenant,
		Apps:                  apps,
		ClientID:              clientID,
		ClientSecret:          clientSecret,
		RedirectURIs:          o.redirectURIs,
		FrontChannelLogoutURL: o.logoutURL,
		ClientCertificates:    clientCerts,
		FederatedSubjects:     o.federated,
		Users:                 users,
		AccessTokenTTL:        o.accessTTL,
		IDTokenTTL:            o.idTTL,
		RefreshTokenTTL:       o.refreshTTL,
		CodeTTL:               o.codeTTL,
		TokenPadding:          o.padding,
		AdminConsented:        splitList(o.consented),
		ExternalID:            o.externalID,
		Subdomain:             o.subdomain,
		Logger:                logger,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	// Long enough for injected delays ("hang for 5 s") and more.
	srv := httpsserver.New(em.Handler(), cert, 2*time.Minute, logger)
	printBanner(stdout, em, ln.Addr().(*net.TCPAddr), o, users == nil)
	if err := httpsserver.Serve(ctx, srv, ln, 5*time.Second); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// splitList splits a comma- or space-separated flag value; an empty value
// is an empty, non-nil list.
func splitList(v string) []string {
	return append([]string{}, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })...)
}

// loadCertificate loads the HTTPS certificate, explaining how to make one.
func loadCertificate(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cert, fmt.Errorf("no TLS certificate at %s and %s: run ssl/generate-local-cert.sh to create one", certFile, keyFile)
	case err != nil:
		return cert, fmt.Errorf("cannot load TLS certificate %s and key %s (%v): run ssl/generate-local-cert.sh to create a fresh pair", certFile, keyFile, err)
	}
	return cert, nil
}

// isLoopback reports whether addr's host is localhost or a loopback IP.
// An empty host means every interface, so it is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// printBanner tells people how to point the app at the emulator.
func printBanner(w io.Writer, em *emulator.Emulator, addr *net.TCPAddr, o options, demoUsers bool) {
	// The development certificate covers localhost and 127.0.0.1; the web
	// app's demo configuration uses localhost.
	host := "localhost"
	if !addr.IP.IsLoopback() && !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	base := fmt.Sprintf("https://%s", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
	var b strings.Builder
	fmt.Fprintf(&b, "Local Entra ID emulator (NOT Microsoft) listening on %s\n", net.JoinHostPort(addr.IP.String(), fmt.Sprint(addr.Port)))
	if em.ExternalID() {
		// External ID names its issuer on the tenant ID's ciamlogin.com
		// host, which the app accepts from a custom URL domain: this one.
		port := fmt.Sprint(addr.Port)
		fmt.Fprintf(&b, "  External ID:    tenant %s.onmicrosoft.com, issuer %s\n", em.Subdomain(), em.ExternalIDIssuer(port))
		fmt.Fprintf(&b, "  Authority:      OIDC_AUTHORITY=%s/v2.0 (this host as a custom URL domain)\n", em.Authority(base))
		fmt.Fprintf(&b, "                  or, with %s.ciamlogin.com mapped to this address and in the certificate:\n", em.Subdomain())
		fmt.Fprintf(&b, "                  AUTHORITY=https://%s.ciamlogin.com:%s/%s.onmicrosoft.com\n", em.Subdomain(), port, em.Subdomain())
	} else {
		fmt.Fprintf(&b, "  Authority:      %s\n", em.Authority(base))
	}
	for _, app := range em.Apps() {
		fmt.Fprintf(&b, "  Client ID:      %s\n", app.ClientID)
		switch {
		case app.ClientSecret == "":
			fmt.Fprintf(&b, "  Client secret:  none (a certificate or federated credential instead)\n")
		case app.ClientSecret == emulator.DemoClientSecret:
			fmt.Fprintf(&b, "  Client secret:  %s\n", emulator.DemoClientSecret)
		case o.appsFile != "":
			fmt.Fprintf(&b, "  Client secret:  (the one in %s)\n", o.appsFile)
		default:
			fmt.Fprintf(&b, "  Client secret:  (the one given with -client-secret)\n")
		}
		for i, u := range app.RedirectURIs {
			label := "Redirect URIs:"
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(&b, "  %-15s %s\n", label, u)
		}
		if app.FrontChannelLogoutURL != "" {
			fmt.Fprintf(&b, "  Front-channel:  %s\n", app.FrontChannelLogoutURL)
		}
		for i, c := range app.ClientCertificates {
			label := "Certificates:"
			if i > 0 {
				label = ""
			}
			sum := sha1.Sum(c.Raw)
			fmt.Fprintf(&b, "  %-15s %X (%s, valid until %s)\n", label, sum, c.Subject.CommonName, c.NotAfter.UTC().Format(time.DateOnly))
		}
		if len(app.FederatedSubjects) > 0 {
			fmt.Fprintf(&b, "  Federated:      issuer %s/workload-identity, audience %s, subjects %s\n", base, emulator.FederatedAudience, strings.Join(app.FederatedSubjects, ", "))
			fmt.Fprintf(&b, "                  tokens: curl -d subject=%s %s/emulator/workload-token\n", app.FederatedSubjects[0], base)
		}
	}
	fmt.Fprintf(&b, "  Graph /me:      %s/v1.0/me\n", base)
	fmt.Fprintf(&b, "  Graph events:   %s/v1.0/me/events\n", base)
	fmt.Fprintf(&b, "  About page:     %s/\n", base)
	b.WriteString("  Accounts:\n")
	for _, u := range em.Users() {
		roles := "no app roles"
		if len(u.Roles) > 0 {
			roles = "app roles: " + strings.Join(u.Roles, ", ")
		}
		if demoUsers {
			fmt.Fprintf(&b, "    %-20s password %-16s (%s)\n", u.Username, u.Password, roles)
		} else {
			fmt.Fprintf(&b, "    %-20s (%s)\n", u.Username, roles)
		}
	}
	fmt.Fprint(w, b.String())
}
