package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/sqlite"
)

// A backup of the embedded store is a directory with a copy of the database file, made by
// SQLite's VACUUM INTO through a read-only connection, and a manifest. It is taken while serve
// runs: backup takes no lock on the data directory (serve holds it) and writes nothing to the
// store; WAL lets serve's writes go on while the copy's read transaction sees one committed
// state. The manifest is written from the copy, so its counts and audit head are the copy's.
// The key files are not in the backup (a copy of the store alone must not give back the personal
// data behind its hashes): the manifest records their fingerprints, never their bytes.

const (
	backupFormat   = "credtrace-backup/1"
	backupDB       = "credtrace.db"
	backupManifest = "manifest.json"
)

// manifest describes one backup.
type manifest struct {
	Format    string           `json:"format"`
	Version   string           `json:"credtrace_version"`
	CreatedAt time.Time        `json:"created_at"`
	Source    string           `json:"source"`
	Database  string           `json:"database"`
	SHA256    string           `json:"sha256"`
	Size      int64            `json:"size"`
	AuditHead auditHead        `json:"audit_head"`
	Counts    map[string]int64 `json:"counts"`
	Keys      []keyPrint       `json:"keys"`
}

type auditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// keyPrint is a key file's fingerprint: the one the store recorded (the key its data needs) and
// the one of the key file found at backup time, when there is one.
type keyPrint struct {
	Name            string `json:"name"`
	File            string `json:"file"`
	Fingerprint     string `json:"fingerprint"`
	FileFingerprint string `json:"file_fingerprint,omitempty"`
}

// keySettings are the store's settings that record the keys' fingerprints.
var keySettings = []string{settingPIIFingerprint, "audit_key_id"}

// keyPrints fingerprints the configured keys (PII: HMAC of a label; audit: the public key's id)
// beside what the store recorded.
func keyPrints(cfg config.Config, recorded map[string]string) ([]keyPrint, error) {
	pii := keyPrint{Name: "personal-data key", File: cfg.PIIKeyFile, Fingerprint: recorded[settingPIIFingerprint]}
	key, _, err := configuredPIIKey(cfg)
	if err != nil {
		return nil, err
	}
	if key != nil {
		pii.FileFingerprint = piiFingerprint(key)
	}
	audit := keyPrint{Name: "audit key", File: cfg.AuditKeyFile, Fingerprint: recorded["audit_key_id"]}
	akey, _, err := configuredAuditKey(cfg)
	if err != nil {
		return nil, err
	}
	if akey != nil {
		audit.FileFingerprint = courier.AuditKeyID(akey.Public().(ed25519.PublicKey))
	}
	return []keyPrint{pii, audit}, nil
}

// storeConfig loads the configuration of a backup or restore: the data directory and the key
// files, from the flags given and the CREDTRACE_ variables.
func storeConfig(getenv func(string) string, data, piiFile, auditFile string) (config.Config, error) {
	var args []string
	if data != "" {
		args = append(args, "--data", data)
	}
	if piiFile != "" {
		args = append(args, "--pii-key-file", piiFile)
	}
	if auditFile != "" {
		args = append(args, "--audit-key-file", auditFile)
	}
	cfg, err := config.Load(getenv, args)
	if err != nil {
		return config.Config{}, err
	}
	if cfg.MongoURI != "" {
		return config.Config{}, errors.New("backup and restore copy the embedded store; with CREDTRACE_MONGO_URI set use mongodump --oplog and mongorestore --oplogReplay (README, Backup and restore)")
	}
	return cfg, nil
}

// backup writes a backup of the embedded store into a new or empty directory.
func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", getenv("CREDTRACE_DATA"), "data directory of the embedded store (serve may be running on it)")
	piiFile := fs.String("pii-key-file", "", "file of the personal-data key, to fingerprint (default: beside the data directory)")
	auditFile := fs.String("audit-key-file", "", "file of the audit key, to fingerprint (default: beside the data directory)")
	if help, err := parseFlags(fs, args, stdout, "backup [flags] DIR   (a consistent copy of the embedded store while serve runs, with a manifest)"); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("backup: give one directory to write the backup into: credtrace backup [--data DATA] DIR")
	}
	dir := fs.Arg(0)
	cfg, err := storeConfig(getenv, *data, *piiFile, *auditFile)
	if err != nil {
		return err
	}
	if err := emptyDir(dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	dst := filepath.Join(dir, backupDB)
	if err := sqlite.Backup(ctx, cfg.SQLitePath(), dst); err != nil {
		return err
	}
	inv, err := sqlite.Inspect(ctx, dst, keySettings...)
	if err != nil {
		return err
	}
	sum, size, err := fileSum(dst)
	if err != nil {
		return err
	}
	keys, err := keyPrints(cfg, inv.Settings)
	if err != nil {
		return err
	}
	m := manifest{Format: backupFormat, Version: version, CreatedAt: time.Now().UTC(), Source: cfg.SQLitePath(), Database: backupDB,
		SHA256: sum, Size: size, AuditHead: auditHead{inv.AuditSeq, inv.AuditHash}, Counts: inv.Counts, Keys: keys}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	// The manifest comes last: a directory without one is an unfinished backup.
	if err := writeDurable(filepath.Join(dir, backupManifest), append(b, '\n')); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup of %s written to %s: %d bytes, sha256 %s, audit head %d %s, %d records, %d events\n",
		cfg.SQLitePath(), dir, size, sum, inv.AuditSeq, inv.AuditHash, inv.Counts["records"], inv.Counts["events"])
	fmt.Fprintln(stdout, "the key files are NOT in the backup; back them up apart (the manifest has their fingerprints):")
	for _, k := range keys {
		state := "fingerprint " + k.FileFingerprint
		switch {
		case k.FileFingerprint == "":
			state = "not found here"
		case k.Fingerprint != "" && k.FileFingerprint != k.Fingerprint:
			state += " — NOT the key the store recorded (" + k.Fingerprint + ")"
		}
		fmt.Fprintf(stdout, "  %s: %s (%s)\n", k.Name, k.File, state)
	}
	return nil
}

// restore puts a backup into a fresh data directory and verifies it: the file's checksum, the
// counts and the audit head of the manifest, and the audit chain.
func restore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	piiFile := fs.String("pii-key-file", "", "where the personal-data key file will be, to check against the manifest (default: beside DATADIR)")
	auditFile := fs.String("audit-key-file", "", "where the audit key file will be, to check against the manifest (default: beside DATADIR)")
	if help, err := parseFlags(fs, args, stdout, "restore [flags] BACKUP DATADIR   (into a new or empty DATADIR, verified)"); help || err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("restore: give the backup and a new data directory: credtrace restore BACKUP DATADIR")
	}
	from, dataDir := fs.Arg(0), fs.Arg(1)
	cfg, err := storeConfig(getenv, dataDir, *piiFile, *auditFile)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(from, backupManifest))
	if err != nil {
		return fmt.Errorf("restore: %s is not a finished backup: %w", from, err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Format != backupFormat {
		return fmt.Errorf("restore: %s: not a %s manifest", filepath.Join(from, backupManifest), backupFormat)
	}
	src := filepath.Join(from, filepath.Base(m.Database))
	if sum, _, err := fileSum(src); err != nil {
		return fmt.Errorf("restore: %w", err)
	} else if sum != m.SHA256 {
		return fmt.Errorf("restore: %s has sha256 %s, the manifest says %s: the backup is damaged", src, sum, m.SHA256)
	}
	if err := emptyDir(dataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer unlock()
	dst := cfg.SQLitePath()
	if err := copyDurable(src, dst); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	inv, err := sqlite.Inspect(ctx, dst)
	if err != nil {
		return err
	}
	if problems := compareCounts(m.Counts, inv.Counts); len(problems) > 0 {
		return fmt.Errorf("restore: the restored store differs from the manifest: %s", strings.Join(problems, "; "))
	}
	if inv.AuditSeq != m.AuditHead.Seq || inv.AuditHash != m.AuditHead.Hash {
		return fmt.Errorf("restore: audit head %d %s, the manifest says %d %s", inv.AuditSeq, inv.AuditHash, m.AuditHead.Seq, m.AuditHead.Hash)
	}
	st, err := sqlite.Open(ctx, dst)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := courier.NewService(st, courier.NewHasher(nil), policy(cfg), nil)
	keys, err := keyPrints(cfg, nil)
	if err != nil {
		return err
	}
	if akey, _, err := configuredAuditKey(cfg); err == nil && akey != nil {
		svc.SetAuditKey(akey) // checkpoints are then checked against their signatures too
	}
	res, err := svc.VerifyAudit(ctx, credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "cli"})
	if err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("restore: the audit chain does not verify: entry %d: %s", res.FirstBad, res.Reason)
	}
	fmt.Fprintf(stdout, "restored %s into %s: verified (sha256, %d tables' counts, audit chain of %d entries to head %d)\n",
		from, dataDir, len(m.Counts), res.Entries, m.AuditHead.Seq)
	for i, k := range keys {
		var want string
		for _, mk := range m.Keys {
			if mk.Name == k.Name {
				want = mk.Fingerprint
			}
		}
		switch {
		case want == "":
			fmt.Fprintf(stdout, "  %s: the store recorded none\n", k.Name)
		case keys[i].FileFingerprint == "":
			fmt.Fprintf(stdout, "  %s: put the key file backed up apart at %s (fingerprint %s) before serve starts\n", k.Name, k.File, want)
		case keys[i].FileFingerprint != want:
			return fmt.Errorf("restore: the %s at %s has fingerprint %s, the backup's store needs %s", k.Name, k.File, keys[i].FileFingerprint, want)
		default:
			fmt.Fprintf(stdout, "  %s: %s matches the store (fingerprint %s)\n", k.Name, k.File, want)
		}
	}
	return nil
}

// compareCounts names the tables whose rows differ from the manifest's.
func compareCounts(want, got map[string]int64) []string {
	var out []string
	for t, n := range want {
		if got[t] != n {
			out = append(out, fmt.Sprintf("%s has %d rows, the manifest %d", t, got[t], n))
		}
	}
	sort.Strings(out)
	return out
}

// emptyDir is nil when dir does not exist or is an empty directory.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty (%d entries): give a new or empty directory", dir, len(entries))
	}
	return nil
}

func fileSum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// writeDurable writes b to path through a synced temporary file and a rename.
func writeDurable(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// copyDurable copies src to dst (which must not exist) through a synced temporary file.
func copyDurable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := errors.Join(out.Sync(), out.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
