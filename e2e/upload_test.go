package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/oauthtransport"
)

// A new process restores a session and uploads an image from a file: the
// first request to the PDS carries no DPoP nonce (none is known yet), the
// PDS answers 401 use_dpop_nonce, and the transport must resend the body,
// which has no GetBody and is over the 1 MiB it keeps in memory (it spools
// it to a temporary file). The same happens to any large streamed upload
// whose cached nonce the server no longer accepts. A bytes.Reader body
// (GetBody set) is the control.
func TestLargeStreamedUploadWithoutNonce(t *testing.T) {
	n := requireNetwork(t)
	e := newClient(t, n, clientOpts{})
	e.login(t, n.Alice, oauthtransport.AuthorizeOptions{})
	data := make([]byte, 1536<<10) // 1.5 MiB: an image under the 2 MB limit
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), "photo.bin")
	step(t, "write the file", os.WriteFile(path, data, 0o644))

	t.Run("bytes.Reader", func(t *testing.T) {
		// Control: a replayable body is resent with the nonce.
		s, err := e.sibling(t).client.Restore(ctx(t), n.Alice.DID)
		step(t, "Restore in a new instance", err)
		out, err := atp.NewAgent(atp.OAuth(s)).UploadBlob(ctx(t), bytes.NewReader(data), "application/octet-stream")
		step(t, "UploadBlob (bytes.Reader)", err)
		if out.Blob == nil || out.Blob.Size != int64(len(data)) {
			t.Errorf("blob %+v", out.Blob)
		}
	})

	t.Run("file", func(t *testing.T) {
		e2 := e.sibling(t)
		s, err := e2.client.Restore(ctx(t), n.Alice.DID)
		step(t, "Restore in a new instance", err)
		f, err := os.Open(path)
		step(t, "open the file", err)
		defer f.Close()
		m := e2.wire.mark()
		out, err := atp.NewAgent(atp.OAuth(s)).UploadBlob(ctx(t), f, "application/octet-stream")
		if err != nil {
			t.Fatalf("UploadBlob of a 1.5 MiB file as the session's first request: %v (wire: %v)", err, e2.wire.since(m))
		}
		if out.Blob == nil || out.Blob.Size != int64(len(data)) {
			t.Errorf("blob %+v", out.Blob)
		}
	})
}
