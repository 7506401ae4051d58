package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/courier"
)

// The personal-data key never lives in the store it protects: a copy of the store alone must
// not give back the ID numbers and phones behind its hashes (the masks leave only a birth
// date or four digits to try). It comes from CREDTRACE_PII_SECRET, or from a key file outside
// the data directory; the store keeps only the key's fingerprint, to refuse a start with the
// wrong key instead of silently hashing new data under another one.
const (
	// settingPIIKey is where stores before this change kept the key itself.
	settingPIIKey = "pii_key"
	// settingPIIFingerprint is the fingerprint of the key the store's data is hashed with.
	settingPIIFingerprint = "pii_key_fingerprint"
	fingerprintLabel      = "credtrace personal-data key fingerprint v1"
)

// piiFingerprint identifies key without revealing it: an HMAC of a fixed label under the key.
func piiFingerprint(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(fingerprintLabel))
	return hex.EncodeToString(m.Sum(nil))
}

// piiKey returns the key of personal-data hashes for the store st. See README "The
// personal-data key": sources, the first start, moving a key out of an older store, and the
// errors that stop a start (missing key, wrong key).
func piiKey(ctx context.Context, cfg config.Config, st courier.Store, log *slog.Logger) ([]byte, error) {
	given, source, err := configuredPIIKey(cfg)
	if err != nil {
		return nil, err
	}
	legacy, err := optionalSetting(ctx, st, settingPIIKey)
	if err != nil {
		return nil, err
	}
	stored, err := optionalSetting(ctx, st, settingPIIFingerprint)
	if err != nil {
		return nil, err
	}
	if legacy != "" {
		return movePIIKeyOut(ctx, cfg, st, legacy, given, source, log)
	}
	if stored != "" {
		switch {
		case given == nil:
			return nil, fmt.Errorf("personal-data key: this store's personal data is hashed with a key that is not given: set CREDTRACE_PII_SECRET, or restore the key file to %s (or point --pii-key-file / CREDTRACE_PII_KEY_FILE at it)", cfg.PIIKeyFile)
		case !hmac.Equal([]byte(piiFingerprint(given)), []byte(stored)):
			return nil, fmt.Errorf("personal-data key: the key from %s is not the one this store's personal data is hashed with (fingerprints differ); give the store's own key", source)
		}
		return given, nil
	}
	if given == nil {
		// No fingerprint: a fresh store, or one from before fingerprints that was run with
		// CREDTRACE_PII_SECRET (which was never recorded). A new key is only right for the first.
		n, err := st.CountTokens(ctx)
		if err != nil {
			return nil, fmt.Errorf("personal-data key: %w", err)
		}
		if n > 0 {
			return nil, fmt.Errorf("personal-data key: this store holds data but no record of its key, so it was run with CREDTRACE_PII_SECRET: set it again (or put the key in %s)", cfg.PIIKeyFile)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := writeKeyFile(cfg.PIIKeyFile, key); err != nil {
			return nil, err
		}
		log.Info("created the personal-data key file; back it up apart from the data", "path", cfg.PIIKeyFile)
		given, source = key, cfg.PIIKeyFile
	}
	got, err := st.InitSetting(ctx, settingPIIFingerprint, piiFingerprint(given))
	if err != nil {
		return nil, fmt.Errorf("personal-data key: record its fingerprint: %w", err)
	}
	if got != piiFingerprint(given) { // another instance recorded another key first
		return nil, fmt.Errorf("personal-data key: the key from %s is not the one this store's personal data is hashed with (fingerprints differ); give the store's own key", source)
	}
	return given, nil
}

// movePIIKeyOut migrates a store that kept its key in its settings: the key goes to the key
// file (unless CREDTRACE_PII_SECRET is that very key), the store keeps its fingerprint, and
// the key leaves the store. Each step can be repeated, so a crash half-way is finished at the
// next start.
func movePIIKeyOut(ctx context.Context, cfg config.Config, st courier.Store, legacy string, given []byte, source string, log *slog.Logger) ([]byte, error) {
	key, err := hex.DecodeString(legacy)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("personal-data key: the key kept in the store is not hex")
	}
	switch {
	case given != nil && !hmac.Equal(given, key):
		return nil, fmt.Errorf("personal-data key: the store holds its own key, and the key from %s is a different one; remove it to let the store's key move to %s", source, cfg.PIIKeyFile)
	case given == nil:
		if err := writeKeyFile(cfg.PIIKeyFile, key); err != nil {
			return nil, err
		}
		source = cfg.PIIKeyFile
	}
	if _, err := st.InitSetting(ctx, settingPIIFingerprint, piiFingerprint(key)); err != nil {
		return nil, fmt.Errorf("personal-data key: record its fingerprint: %w", err)
	}
	if err := st.DeleteSetting(ctx, settingPIIKey); err != nil {
		return nil, fmt.Errorf("personal-data key: remove it from the store: %w", err)
	}
	log.Warn("moved the personal-data key out of the store; back it up apart from the data", "key", source)
	return key, nil
}

// configuredPIIKey is the key the configuration gives: CREDTRACE_PII_SECRET, else the key
// file when it exists; nil when neither. source names where it came from, for errors.
func configuredPIIKey(cfg config.Config) (key []byte, source string, err error) {
	if cfg.PIISecret != "" {
		return []byte(cfg.PIISecret), "CREDTRACE_PII_SECRET", nil
	}
	path := cfg.PIIKeyFile
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("personal-data key file %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("personal-data key file %s: readable by others (mode %04o); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("personal-data key file %s: %w", path, err)
	}
	key, err = hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, "", fmt.Errorf("personal-data key file %s: not a key (64 or more hex digits)", path)
	}
	return key, path, nil
}

// writeKeyFile creates path (mode 0600; never over an existing file) holding key in hex, and
// makes it durable before the store is told about it.
func writeKeyFile(path string, key []byte) error {
	return writeSecretFile("personal-data key file", path, hex.EncodeToString(key)+"\n")
}

// writeSecretFile creates path (mode 0600; never over an existing file) holding content, and
// makes it and its directory entry durable; what names the file in errors.
func writeSecretFile(what, path, content string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// optionalSetting reads a setting, "" when unset.
func optionalSetting(ctx context.Context, st courier.Store, key string) (string, error) {
	v, err := st.Setting(ctx, key)
	if errors.Is(err, credtrace.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("personal-data key: read setting %s: %w", key, err)
	}
	return v, nil
}
