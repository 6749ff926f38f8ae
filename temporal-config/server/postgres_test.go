package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPostgresConfigs(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, url, vis, pwFile, env string
		wantAddr, wantDB, wantVis   string
		wantUser, wantPassword      string
		wantSSL                     string
		wantErr                     string
	}{
		{name: "defaults", url: "postgres://temporal@db/temporal?sslmode=verify-full",
			wantAddr: "db:5432", wantDB: "temporal", wantVis: "temporal_visibility", wantUser: "temporal", wantSSL: "verify-full"},
		{name: "visibility named", url: "postgres://t@127.0.0.1:5433/tp", vis: "tv",
			wantAddr: "127.0.0.1:5433", wantDB: "tp", wantVis: "tv", wantUser: "t"},
		{name: "password in URL", url: "postgres://t:inurl@db/tp", wantAddr: "db:5432", wantDB: "tp", wantVis: "tp_visibility", wantUser: "t", wantPassword: "inurl"},
		{name: "environment over URL", url: "postgres://t:inurl@db/tp", env: "from-env",
			wantAddr: "db:5432", wantDB: "tp", wantVis: "tp_visibility", wantUser: "t", wantPassword: "from-env"},
		{name: "file over environment", url: "postgres://t@db/tp", env: "from-env", pwFile: pwFile,
			wantAddr: "db:5432", wantDB: "tp", wantVis: "tp_visibility", wantUser: "t", wantPassword: "from-file"},
		{name: "not postgres", url: "mysql://t@db/tp", wantErr: "scheme"},
		{name: "no database", url: "postgres://t@db", wantErr: "database"},
		{name: "no user", url: "postgres://db/tp", wantErr: "user"},
		{name: "same visibility database", url: "postgres://t@db/tp", vis: "tp", wantErr: "must differ"},
		{name: "missing password file", url: "postgres://t@db/tp", pwFile: filepath.Join(t.TempDir(), "none"), wantErr: "--postgres-password-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(postgresPasswordEnv, tc.env)
			m, v, err := postgresConfigs(tc.url, tc.vis, tc.pwFile)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.ConnectAddr != tc.wantAddr || v.ConnectAddr != tc.wantAddr {
				t.Errorf("addresses %q, %q; want %q", m.ConnectAddr, v.ConnectAddr, tc.wantAddr)
			}
			if m.DatabaseName != tc.wantDB || v.DatabaseName != tc.wantVis {
				t.Errorf("databases %q, %q; want %q, %q", m.DatabaseName, v.DatabaseName, tc.wantDB, tc.wantVis)
			}
			if m.User != tc.wantUser || m.Password != tc.wantPassword || v.Password != tc.wantPassword {
				t.Errorf("user %q password %q; want %q %q", m.User, m.Password, tc.wantUser, tc.wantPassword)
			}
			if got := m.ConnectAttributes["sslmode"]; got != tc.wantSSL {
				t.Errorf("sslmode %q, want %q", got, tc.wantSSL)
			}
		})
	}
}
