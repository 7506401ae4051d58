package courier

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/credtrace/credtrace"
)

// Checkpoint anchors the tail of the audit trail: the head's Seq and Hash at a time, signed
// with the audit key (Ed25519). The hash chain alone shows an altered or missing entry in the
// middle, but not the newest entries cut off the end, which leaves a shorter, valid chain; a
// checkpoint published elsewhere (GET /v1/public/audit/head) and kept in the store shows that
// entries up to its Seq existed, and anyone holding the public key can check it was not forged.
type Checkpoint struct {
	Seq       int64
	Hash      string // the Hash of audit entry Seq
	At        time.Time
	KeyID     string // AuditKeyID of the public key that signed it
	Signature string // base64 of the Ed25519 signature over CheckpointMessage
}

// CheckpointMessage is the exact text a checkpoint's signature covers; a verifier rebuilds it
// from the published fields.
func CheckpointMessage(c Checkpoint) string {
	return fmt.Sprintf("credtrace audit checkpoint v1\nseq=%d\nhash=%s\nat=%s\nkey=%s\n", c.Seq, c.Hash, c.At.UTC().Format(time.RFC3339Nano), c.KeyID)
}

// AuditKeyID is the fingerprint of an audit public key: the first 16 bytes of its SHA-256, in
// hex. The store keeps only this, never the key.
func AuditKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:16])
}

// VerifyCheckpoint reports whether c is signed by pub.
func VerifyCheckpoint(pub ed25519.PublicKey, c Checkpoint) bool {
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || len(pub) != ed25519.PublicKeySize || c.KeyID != AuditKeyID(pub) {
		return false
	}
	return ed25519.Verify(pub, []byte(CheckpointMessage(c)), sig)
}

// SetAuditKey gives s the key that signs checkpoints. It is kept outside the store (cmd reads
// it from CREDTRACE_AUDIT_KEY or a 0600 key file), so that whoever can rewrite the store
// cannot also sign a checkpoint over the rewritten trail.
func (s *Service) SetAuditKey(key ed25519.PrivateKey) { s.auditKey = key }

// AuditPublicKey returns the public half of the audit key; nil without one.
func (s *Service) AuditPublicKey() ed25519.PublicKey {
	if s.auditKey == nil {
		return nil
	}
	return s.auditKey.Public().(ed25519.PublicKey)
}

// Checkpoint signs and stores a checkpoint of the trail's head (regulators, and the system's
// schedule). When the head has not moved since the latest checkpoint, that one is answered
// (created false). Writing a checkpoint is not itself an audit entry: it would move the head it
// anchors, and the checkpoints are a signed list of their own. credtrace.ErrState without an audit key or
// on an empty trail.
func (s *Service) Checkpoint(ctx context.Context, a credtrace.Caller) (Checkpoint, bool, error) {
	if err := requireRegulator(a); err != nil {
		return Checkpoint{}, false, err
	}
	if s.auditKey == nil {
		return Checkpoint{}, false, stateErr("no audit key is configured")
	}
	head, ok, err := s.store.LastAudit(ctx)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("checkpoint: %w", err)
	}
	if !ok {
		return Checkpoint{}, false, stateErr("the audit trail is empty")
	}
	last, ok, err := s.store.LatestCheckpoint(ctx)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("checkpoint: %w", err)
	}
	if ok && last.Seq >= head.Seq {
		return last, false, nil
	}
	c := Checkpoint{Seq: head.Seq, Hash: head.Hash, At: s.Now(), KeyID: AuditKeyID(s.AuditPublicKey())}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.auditKey, []byte(CheckpointMessage(c))))
	if err := s.store.PutCheckpoint(ctx, c); err != nil {
		if errors.Is(err, credtrace.ErrConflict) { // another instance checkpointed this head first
			if last, ok, lerr := s.store.LatestCheckpoint(ctx); lerr == nil && ok && last.Seq >= head.Seq {
				return last, false, nil
			}
		}
		return Checkpoint{}, false, fmt.Errorf("store checkpoint: %w", err)
	}
	return c, true, nil
}

// AuditHead returns the latest checkpoint and the public key that verifies it, for anyone;
// ok is false before the first checkpoint.
func (s *Service) AuditHead(ctx context.Context) (c Checkpoint, pub ed25519.PublicKey, ok bool, err error) {
	c, ok, err = s.store.LatestCheckpoint(ctx)
	if err != nil {
		return Checkpoint{}, nil, false, fmt.Errorf("audit head: %w", err)
	}
	return c, s.AuditPublicKey(), ok, nil
}

// Checkpoints lists checkpoints with Seq > after, oldest first (regulators only), for export.
func (s *Service) Checkpoints(ctx context.Context, a credtrace.Caller, after int64, limit int) ([]Checkpoint, error) {
	if err := requireRegulator(a); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxLimit {
		limit = DefaultLimit
	}
	return s.store.Checkpoints(ctx, after, limit)
}

// settingAuditKeyID is the fingerprint of the key the store's checkpoints are signed with.
const settingAuditKeyID = "audit_key_id"

// CheckAuditKey records the audit key's fingerprint in the store on the first start and
// refuses (credtrace.ErrState) a key other than the recorded one while the store holds checkpoints: new
// checkpoints under another key would not verify with the published one. A store without
// checkpoints takes the new key's fingerprint.
func (s *Service) CheckAuditKey(ctx context.Context) error {
	if s.auditKey == nil {
		return stateErr("no audit key is configured")
	}
	id := AuditKeyID(s.AuditPublicKey())
	got, err := s.store.InitSetting(ctx, settingAuditKeyID, id)
	if err != nil {
		return fmt.Errorf("audit key: record its fingerprint: %w", err)
	}
	if got == id {
		return nil
	}
	if _, ok, err := s.store.LatestCheckpoint(ctx); err != nil {
		return fmt.Errorf("audit key: %w", err)
	} else if ok {
		return stateErr("the audit key (fingerprint %s) is not the one this store's checkpoints are signed with (%s); give the store's own key", id, got)
	}
	if err := s.store.DeleteSetting(ctx, settingAuditKeyID); err != nil {
		return fmt.Errorf("audit key: %w", err)
	}
	_, err = s.store.InitSetting(ctx, settingAuditKeyID, id)
	return err
}
