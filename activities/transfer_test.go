package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// An upload states its length, as S3 requires (411 without), an empty
// file's too.
func TestPutFileStatesItsLength(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 || r.Header.Get("Content-Length") == "" {
			http.Error(w, "MissingContentLength", http.StatusLengthRequired)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	for _, body := range []string{"", "<nmaprun/>"} {
		path := filepath.Join(t.TempDir(), "out.xml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		o := &shardObjects{client: srv.Client(), bucket: "b", put: map[string]string{"k": srv.URL + "/k"}}
		ref, err := o.PutFile(context.Background(), "k", path, "application/xml")
		sum := sha256.Sum256([]byte(body))
		if err != nil || ref.Size != int64(len(body)) || ref.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("upload of %q: %+v, %v", body, ref, err)
		}
	}
}
