package scan

import (
	"strings"
	"testing"
)

func TestResultSignatures(t *testing.T) {
	cred, pub, err := NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := NewCredential()
	claim := ResultClaim{RunID: 4, ShardID: 9, Attempt: 2, Agent: "edge-1",
		Raw: BlobRef{Bucket: "b", Key: "runs/4/9/2/nmap.xml", Size: 10, SHA256: strings.Repeat("a", 64)}}
	sig, err := SignResult(cred, claim)
	if err != nil || !VerifyResult(pub, claim, sig) {
		t.Fatalf("a signed claim does not verify: %v", err)
	}
	forged := claim
	forged.Raw.SHA256 = strings.Repeat("b", 64)
	wrongAgent := claim
	wrongAgent.Agent = "edge-2"
	for _, c := range []ResultClaim{forged, wrongAgent} {
		if VerifyResult(pub, c, sig) {
			t.Errorf("signature accepted for altered claim %+v", c)
		}
	}
	if sig2, _ := SignResult(other, claim); VerifyResult(pub, claim, sig2) {
		t.Error("another agent's signature accepted")
	}
	for _, bad := range []string{"", "sct1_", "sct1_!!!", "password", strings.TrimPrefix(cred, "sct1_")} {
		if CheckCredential(bad) == nil {
			t.Errorf("credential %q accepted", bad)
		}
	}
}
