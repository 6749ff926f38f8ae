package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
)

// intrusiveProfiles run intrusive scripts: an operator gets a 403 naming
// one of them (script), an admin a 400 without the intrusive flag and the
// profile with it.
var intrusiveProfiles = []struct{ options, script string }{
	{"--script exploit", "http-shellshock"},
	{"--script dos", "http-slowloris"},
	{"--script brute", "ssh-brute"},
	{"--script intrusive", "http-enum"},
	{"--script malware", "http-malware-host"},
	{"--script fuzzer", "dns-fuzz"},
	{"--script vuln", "ssl-heartbleed"},
	{"--script VULN", "ssl-heartbleed"},
	{"--script 'vuln and not safe'", "http-shellshock"},
	{"--script ssh-brute", "ssh-brute"},
	{"--script ssh-*", "ssh-brute"},
	{"--script 'http-* and not safe'", "http-enum"},
	{"--script 'not safe and discovery'", "dns-brute"},
	{"--script 'banner or ssh-brute'", "ssh-brute"},
	{"--script 'ssh-brute or banner and ssh-brute'", "ssh-brute"},
	{"--script banner,smb-vuln-ms17-010", "smb-vuln-ms17-010"},
	{"--script safe", "ssl-heartbleed"},
	{"--script default", "http-git"},
	{"--script smb-vuln-*", "smb-vuln-ms08-067"},
	{"--script '(ssh-brute)'", "ssh-brute"},
	{"-sC", "http-git"},
	{"-A", "http-open-proxy"},
	{"-sT -sC --script banner", "http-git"},
}

// refusedForAll are refused whoever saves them, with a message that names
// the option and the reason.
var refusedForAll = []struct{ options, names string }{
	{"--script all", `"all"`},
	{"--script ALL", `"ALL"`},
	{"--script 'all and not vuln'", `"all"`},
	{"--script true", `"true"`},
	{"--script 'not false'", `"false"`},
	{"--script 'not nonesuch-script'", "nonesuch-script"},
	{"--script '*'", "every script"},
	{"--script 'not (safe and not safe)'", "every script"},
	{"--script +banner", "forces"},
	{"--script +vuln", "forces"},
	{"--script banner,+ssh-brute", "forces"},
	{"--script ' +http-title'", "forces"},
	{"--script broadcast-ping", "broadcast-ping"},
	{"--script external", "external"},
	{"--script asn-query", "asn-query"},
	{"--script 'banner or broadcast-ping'", "broadcast-ping"},
	{"--script 'banner and'", "--script"},
	{"--script 'and banner'", "--script"},
	{"--script 'banner)'", "unbalanced"},
	{"--script-args 'a=\"}\",userdb=/etc/passwd'", "userdb"},
	{"--script-args 'a=\"}\",passdb=x'", "passdb"},
	{"--script-args 'a={\"}\"},brute.credfile=x'", "brute.credfile"},
	{"--script-args 'x=1},userdb=/etc/shadow'", "ignores"},
	{"--script-args http={file=x}", "http.file"},
	{"--script-args a={b={c={userdb=x}}}", "a.b.c.userdb"},
	{"--script-args '{userdb=/etc/passwd}'", "userdb"},
	{"--script-args newtargets", "newtargets"},
	{"--script-args 'a=1,newtargets=1'", "newtargets"},
	{"--script-args file=/etc/passwd", "file"},
	{"--script-args 'http.useragent=x,\"userdb\"=/etc/x'", "userdb"},
	{"--script-args \"'userdb'=x\"", "userdb"},
	{"--script-args 'USERDB=x'", "USERDB"},
	{"--script-args 'a = \"b\" c'", "does not parse"},
	{"--script-args 'a={'", "does not parse"},
	{"--script-args http.host=../../etc", "path"},
	{"--script-args 'smb.domain=~/x'", "path"},
	{"--script-args 'x=file:///etc/passwd'", "path"},
}

// fileArgs are file-taking script arguments of nmap's scripts/ and nselib/
// (see fileArgWords in scan): each is refused as key=value.
var fileArgs = []string{
	"userdb", "passdb", "brute.credfile", "unpwdb.userdb", "http-put.file", "http-axis2-dir-traversal.outfile",
	"http-axis2-dir-traversal.file", "http-majordomo2-dir-traversal.rfile", "http-majordomo2-dir-traversal.outfile",
	"http-tplink-dir-traversal.outfile", "http-tplink-dir-traversal.rfile", "ssh-hostkey.known-hosts",
	"ssh.privatekeys", "ssh.publickeys", "ssh-run.privatekey", "publickeydb", "knownbad", "ldap.savesearch",
	"stuxnet-detect.save", "http-config-backup.save", "http-fetch.destination", "snmp-ios-config.tftproot",
	"puppet-naivesigning.csr", "dns-brute.hostlist", "dns-brute.srvlist", "tftp-enum.filelist",
	"rtsp-url-brute.urlfile", "snmp-brute.communitiesdb", "http-default-accounts.fingerprintfile",
	"http-enum.fingerprintfile", "http-devframework.fingerprintfile", "ssl-known-key.fingerprintfile",
	"http-stored-xss.dbfile", "mysql-audit.filename", "ms-sql-dump-hashes.dir", "http-phpmyadmin-dir-traversal.dir",
	"http-phpmyadmin-dir-traversal.file", "cvs-brute-repository.repofile", "nje-node-brute.hostlist",
	"targets-ipv6-wordlist.wordlist", "whois.whodb", "traceroute-geolocation.kmlfile",
	"ip-geolocation-map-kml.kmlfile", "ip-geolocation-maxmind.maxmind_db", "jdwp-inject.filename",
	"smb-print-text.filename", "url-snarf.outfile", "lulist", "idlist", "lu-enum.path", "vtam-enum.path",
	"cics-enum.path", "sip-enum-users.userslist", "http-drupal-enum.themes_path", "http-drupal-enum.modules_path",
	"clamav-exec.scandb", "http-vhosts.filelist", "http-wordpress-users.out", "http-virustotal.filename",
	"ajp-request.filename", "http-fileupload-exploiter.uploadspaths", "http-stored-xss.uploadspaths",
	"targets-xml.iX", "file", "filename", "outfile", "path", "oraclesids", "http-sql-injection.errorstrings",
	"http-userdir-enum.users", "hostmap.prefix", "hostmap-bfk.prefix", "config", "smb-psexec.config",
	"ssh-hostkey.known-hosts-path", "http-default-accounts.fingerprintfile", "creds.global.file",
}

func TestProfilePolicyOperatorAndAdmin(t *testing.T) {
	e := newEnv(t)
	operator := e.userToken(t, accounts.Operator)
	admin := e.token
	post := func(token, options string, intrusive bool) (int, string) {
		body, _ := json.Marshal(map[string]any{"name": uniq("pol"), "scanner": "nmap", "options": options, "intrusive": intrusive})
		w := e.doAs(t, token, "POST", "/api/v1/profiles", string(body))
		if w.Code >= 400 {
			return w.Code, errorOf(t, w)
		}
		return w.Code, ""
	}
	total := 0
	for _, tt := range intrusiveProfiles {
		total++
		t.Run("intrusive "+tt.options, func(t *testing.T) {
			for _, flag := range []bool{false, true} {
				if code, msg := post(operator, tt.options, flag); code != http.StatusForbidden || !strings.Contains(msg, tt.script) || !strings.HasPrefix(msg, "options: ") {
					t.Errorf("operator (intrusive=%v): %d %q, want 403 naming %s", flag, code, msg, tt.script)
				}
			}
			if code, msg := post(admin, tt.options, false); code != http.StatusBadRequest || !strings.HasPrefix(msg, "intrusive: ") || !strings.Contains(msg, tt.script) {
				t.Errorf("admin without the flag: %d %q, want 400 naming %s", code, msg, tt.script)
			}
			if code, msg := post(admin, tt.options, true); code != http.StatusCreated {
				t.Errorf("admin with the flag: %d %q", code, msg)
			}
		})
	}
	refuse := func(options, names string) {
		total++
		t.Run("refused "+options, func(t *testing.T) {
			for _, who := range []struct{ name, token string }{{"operator", operator}, {"admin", admin}} {
				for _, flag := range []bool{false, true} {
					code, msg := post(who.token, options, flag)
					if who.name == "operator" && flag && code == http.StatusForbidden {
						continue // the flag alone is refused first
					}
					if code != http.StatusBadRequest || !strings.Contains(msg, names) || !strings.Contains(msg, "option --script") {
						t.Errorf("%s (intrusive=%v): %d %q, want 400 naming --script and %s", who.name, flag, code, msg, names)
					}
				}
			}
		})
	}
	for _, tt := range refusedForAll {
		refuse(tt.options, tt.names)
	}
	for _, k := range fileArgs {
		refuse(fmt.Sprintf("--script-args '%s=x'", k), k)
		refuse(fmt.Sprintf("--script-args 'a=\"}\",%s=x'", k), k)
	}
	// Profiles an operator may save; the intrusive flag stays an admin's.
	for _, options := range []string{"-sT -p 80", "--script banner", "--script 'safe and not intrusive and not vuln and not malware'",
		"--script http-title --script-args http.useragent=x", "-sn -PS22", "--script ssh-hostkey,ssh2-enum-algos", "-sV --version-light"} {
		total++
		t.Run("ordinary "+options, func(t *testing.T) {
			if code, msg := post(operator, options, false); code != http.StatusCreated {
				t.Errorf("operator: %d %q", code, msg)
			}
			if code, msg := post(operator, options, true); code != http.StatusForbidden || !strings.HasPrefix(msg, "intrusive: ") {
				t.Errorf("operator setting the flag: %d %q, want 403", code, msg)
			}
			if code, msg := post(admin, options, true); code != http.StatusCreated {
				t.Errorf("admin marking it intrusive anyway: %d %q", code, msg)
			}
		})
	}
	if total < 100+6 {
		t.Errorf("only %d profiles", total)
	}
}

// An operator cannot change an intrusive profile, nor clear its flag while
// its options still run intrusive scripts; the UI marks it.
func TestIntrusiveProfileEditAndMark(t *testing.T) {
	e := newEnv(t)
	operator := e.userToken(t, accounts.Operator)
	var p scan.Profile
	name := uniq("intr")
	e.mustDo(t, "POST", "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "--script vuln", "intrusive": true}`, name), http.StatusCreated, &p)
	if !p.Intrusive {
		t.Fatalf("profile %+v is not intrusive", p)
	}
	for _, body := range []string{
		fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "--script vuln", "intrusive": true}`, name),
		fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "--script vuln", "intrusive": false}`, name),
	} {
		if w := e.doAs(t, operator, "PUT", fmt.Sprintf("/api/v1/profiles/%d", p.ID), body); w.Code != http.StatusForbidden {
			t.Errorf("operator PUT %s: %d %s", body, w.Code, w.Body)
		}
	}
	_, cookie, _ := e.sessionFor(t, accounts.Viewer)
	for _, path := range []string{"/profiles", fmt.Sprintf("/profiles/%d", p.ID)} {
		w := e.page(t, cookie, "GET", path, nil)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `class="badge intrusive"`) {
			t.Errorf("GET %s: %d, no intrusive mark", path, w.Code)
		}
	}
	// The form of an operator: the flag is theirs to see, not to set.
	_, opCookie, opCSRF := e.sessionFor(t, accounts.Operator)
	w := e.form(t, opCookie, opCSRF, "/profiles", url.Values{"name": {uniq("f")}, "scanner": {"nmap"}, "options": {"--script ssh-brute"}})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "ssh-brute") {
		t.Errorf("operator form: %d", w.Code)
	}
}

// The server's --max-rate is a ceiling for what profiles and sites ask,
// checked when they are saved; the error names the option or field.
func TestRateCeilingOnSave(t *testing.T) {
	e := newEnv(t)
	e.srv.ui.ops.profiles.(*manage.Profiles).MaxRate, e.srv.ui.ops.sites.(*manage.Sites).MaxRate = 1000, 1000
	for _, tt := range []struct {
		scanner, options string
		code             int
		names            string
	}{
		{"nmap", "-sT --min-rate 100000000", 400, "option --min-rate: 100000000 packets/s is above the server's ceiling of 1000"},
		{"nmap", "-sT --max-rate 1001", 400, "option --max-rate"},
		{"nmap", "-sT --min-rate 500 --max-rate 1000", 201, ""},
		{"masscan", "-p80 --rate 100000000", 400, "option --rate"},
		{"masscan", "-p80 --max-rate=5000", 400, "option --max-rate"},
		{"masscan", "-p80 --rate 1000", 201, ""},
		{"nmap", "-sT --max-parallelism 100000", 400, "option --max-parallelism"},
		{"nmap", "-sT --scan-delay 1h", 400, "option --scan-delay"},
		{"nmap", "-T9", 400, "option -T"},
	} {
		body, _ := json.Marshal(map[string]any{"name": uniq("rate"), "scanner": tt.scanner, "options": tt.options})
		w := e.do(t, "POST", "/api/v1/profiles", string(body))
		if w.Code != tt.code || (tt.names != "" && !strings.Contains(errorOf(t, w), tt.names)) {
			t.Errorf("%s %q: %d %s, want %d naming %q", tt.scanner, tt.options, w.Code, w.Body, tt.code, tt.names)
		}
	}
	for rate, code := range map[int]int{1000: 201, 1001: 400, 100000000: 400} {
		body := fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.1"], "max_rate": %d}`, uniq("site"), rate)
		w := e.do(t, "POST", "/api/v1/sites", body)
		if w.Code != code || (code == 400 && !strings.Contains(errorOf(t, w), "max_rate: ")) {
			t.Errorf("site max_rate %d: %d %s, want %d", rate, w.Code, w.Body, code)
		}
	}
}
