// Package rofs is a test filesystem: a FUSE passthrough of a directory whose writes a switch
// makes fail, as a disk remounted read-only (EROFS) or a failing device (EIO on fsync) fails
// them, while the files already open stay open. The kernel's `mount -o remount,ro` cannot do
// this under a process that holds files open for writing (EBUSY), which is exactly the case
// a store must survive.
//
// Only tests import it: the service binary does not link go-fuse.
package rofs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Mode is what the filesystem does with a write.
type Mode int32

// The modes.
const (
	// Writable passes every operation through.
	Writable Mode = iota
	// ReadOnly fails every operation that would change the disk (write, fsync, create,
	// truncate, unlink, rename, mkdir, setattr, fallocate, an open for writing) with EROFS,
	// as a filesystem remounted read-only does. Reads pass through.
	ReadOnly
	// FsyncFails passes writes through to the page cache but fails every fsync with EIO, as
	// a failing device does: the data written may or may not be on the disk.
	FsyncFails
)

// FS is a mounted passthrough filesystem.
type FS struct {
	// Dir is the mount point: the files of the backing directory, behind the switch.
	Dir    string
	mode   atomic.Int32
	server *fuse.Server
}

// ErrNoFUSE says this machine cannot mount a FUSE filesystem: no /dev/fuse, or mounting one is
// not permitted here (no CAP_SYS_ADMIN and no fusermount, a sandbox without FUSE).
var ErrNoFUSE = errors.New("rofs: this machine cannot mount a FUSE filesystem")

// Mount mounts backing at mnt (an empty directory) and returns it writable. Unmount it with
// Unmount before the backing directory is removed.
func Mount(backing, mnt string) (*FS, error) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return nil, fmt.Errorf("%w: /dev/fuse is missing", ErrNoFUSE)
	}
	f := &FS{Dir: mnt}
	lr, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, fmt.Errorf("rofs: %w", err)
	}
	rootNode := &node{LoopbackNode: lr.(*fs.LoopbackNode), fs: f}
	zero := time.Duration(0)
	opts := &fs.Options{
		// No caching in the kernel: every operation reaches the switch when it happens.
		EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName: "rofs", Name: "rofs",
			// As root, mount(2) directly; otherwise fusermount.
			DirectMount: os.Geteuid() == 0,
		},
	}
	srv, err := fs.Mount(mnt, rootNode, opts)
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENODEV) || errors.Is(err, exec.ErrNotFound) {
		return nil, fmt.Errorf("%w: mount %s: %v", ErrNoFUSE, mnt, err)
	}
	if err != nil {
		return nil, fmt.Errorf("rofs: mount %s: %w", mnt, err)
	}
	f.server = srv
	return f, nil
}

// Set switches the mode; it takes effect on the next operation.
func (f *FS) Set(m Mode) { f.mode.Store(int32(m)) }

// Unmount unmounts the filesystem, lazily if a process still holds files in it.
func (f *FS) Unmount() error {
	if err := f.server.Unmount(); err != nil {
		if err2 := syscall.Unmount(f.Dir, syscall.MNT_DETACH); err2 != nil {
			return fmt.Errorf("rofs: unmount %s: %w", f.Dir, err)
		}
	}
	return nil
}

func (f *FS) refuse() syscall.Errno {
	if Mode(f.mode.Load()) == ReadOnly {
		return syscall.EROFS
	}
	return 0
}

// node is a loopback node whose changes go through the switch.
type node struct {
	*fs.LoopbackNode
	fs *FS
}

// WrapChild puts every node the loopback makes behind the switch too.
func (n *node) WrapChild(_ context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	if ln, ok := ops.(*fs.LoopbackNode); ok {
		return &node{LoopbackNode: ln, fs: n.fs}
	}
	return ops
}

var (
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeMkdirer   = (*node)(nil)
	_ fs.NodeRmdirer   = (*node)(nil)
)

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if e := n.fs.refuse(); e != 0 {
		return nil, nil, 0, e
	}
	ch, fh, ff, e := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	return ch, n.wrap(fh), ff, e
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC) != 0 {
		if e := n.fs.refuse(); e != 0 {
			return nil, 0, e
		}
	}
	fh, ff, e := n.LoopbackNode.Open(ctx, flags)
	return n.wrap(fh), ff, e
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if e := n.fs.refuse(); e != 0 {
		return e
	}
	return n.LoopbackNode.Unlink(ctx, name)
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if e := n.fs.refuse(); e != 0 {
		return e
	}
	return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
}

func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if in.Valid&^(fuse.FATTR_FH|fuse.FATTR_LOCKOWNER) != 0 {
		if e := n.fs.refuse(); e != 0 {
			return e
		}
	}
	if f, ok := fh.(*file); ok {
		fh = f.LoopbackFile
	}
	return n.LoopbackNode.Setattr(ctx, fh, in, out)
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.fs.refuse(); e != 0 {
		return nil, e
	}
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if e := n.fs.refuse(); e != 0 {
		return e
	}
	return n.LoopbackNode.Rmdir(ctx, name)
}

func (n *node) wrap(fh fs.FileHandle) fs.FileHandle {
	if lf, ok := fh.(*fs.LoopbackFile); ok {
		return &file{LoopbackFile: lf, fs: n.fs}
	}
	return fh
}

// file is an open loopback file whose writes go through the switch.
type file struct {
	*fs.LoopbackFile
	fs *FS
}

// PassthroughFd declines the kernel's passthrough, which would send reads and writes to the
// backing file past the switch.
func (f *file) PassthroughFd() (int, bool) { return -1, false }

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if e := f.fs.refuse(); e != 0 {
		return 0, e
	}
	return f.LoopbackFile.Write(ctx, data, off)
}

func (f *file) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	if e := f.fs.refuse(); e != 0 {
		return 0, e
	}
	return f.LoopbackFile.Writev(ctx, data, off)
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	switch Mode(f.fs.mode.Load()) {
	case ReadOnly:
		return syscall.EROFS
	case FsyncFails:
		return syscall.EIO
	}
	return f.LoopbackFile.Fsync(ctx, flags)
}

func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := f.fs.refuse(); e != 0 {
		return e
	}
	return f.LoopbackFile.Setattr(ctx, in, out)
}

func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if e := f.fs.refuse(); e != 0 {
		return e
	}
	return f.LoopbackFile.Allocate(ctx, off, size, mode)
}
