package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/courier"
)

// The audit key signs checkpoints of the audit trail's head. Like the personal-data key it
// never lives in the store: a checkpoint is worth something only if whoever can rewrite the
// store (and cut the newest entries off the trail) cannot also sign a new checkpoint over what
// is left. It comes from CREDTRACE_AUDIT_KEY (a base64 Ed25519 seed) or a 0600 key file beside
// the data directory, created on the first start; the store keeps the public key's
// fingerprint, and a start with another key is refused once checkpoints exist.

// auditKey returns the audit key for the store of svc and hands it to svc. See README "The
// audit trail".
func auditKey(ctx context.Context, cfg config.Config, st courier.Store, svc *courier.Service, log *slog.Logger) error {
	key, source, err := configuredAuditKey(cfg)
	if err != nil {
		return err
	}
	if key == nil {
		if _, ok, err := st.LatestCheckpoint(ctx); err != nil {
			return fmt.Errorf("audit key: %w", err)
		} else if ok {
			return fmt.Errorf("audit key: this store's checkpoints are signed with a key that is not given: set CREDTRACE_AUDIT_KEY, or restore the key file to %s (or point --audit-key-file / CREDTRACE_AUDIT_KEY_FILE at it)", cfg.AuditKeyFile)
		}
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return err
		}
		if err := writeSecretFile("audit key file", cfg.AuditKeyFile, base64.StdEncoding.EncodeToString(seed)+"\n"); err != nil {
			return err
		}
		key, source = ed25519.NewKeyFromSeed(seed), cfg.AuditKeyFile
		log.Info("created the audit key file; back it up apart from the data", "path", cfg.AuditKeyFile, "key_id", courier.AuditKeyID(key.Public().(ed25519.PublicKey)))
	}
	svc.SetAuditKey(key)
	if err := svc.CheckAuditKey(ctx); err != nil {
		return fmt.Errorf("audit key from %s: %w", source, err)
	}
	return nil
}

// configuredAuditKey is the key the configuration gives: CREDTRACE_AUDIT_KEY, else the key
// file when it exists; nil when neither.
func configuredAuditKey(cfg config.Config) (ed25519.PrivateKey, string, error) {
	parse := func(s, source string) (ed25519.PrivateKey, string, error) {
		seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, "", fmt.Errorf("audit key from %s: not a base64 Ed25519 seed of %d bytes", source, ed25519.SeedSize)
		}
		return ed25519.NewKeyFromSeed(seed), source, nil
	}
	if cfg.AuditKey != "" {
		return parse(cfg.AuditKey, "CREDTRACE_AUDIT_KEY")
	}
	path := cfg.AuditKeyFile
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("audit key file %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("audit key file %s: readable by others (mode %04o); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("audit key file %s: %w", path, err)
	}
	return parse(string(b), path)
}

// checkpointJob writes a signed checkpoint of the audit trail's head on the schedule.
func checkpointJob(svc *courier.Service, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		cp, created, err := svc.Checkpoint(ctx, credtrace.System)
		if errors.Is(err, credtrace.ErrState) { // an empty trail: nothing to anchor yet
			return nil
		}
		if err == nil && created {
			log.Info("audit checkpoint", "seq", cp.Seq, "key_id", cp.KeyID)
		}
		return err
	}
}
