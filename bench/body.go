package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// bodyAttack is what benchBodyAttack measured against one route.
type bodyAttack struct {
	path             string
	baseRSS, peakRSS int64 // the service's resident memory after start, and its highest sample during the attack
	statuses         map[int]int
	took             time.Duration
}

const attackAdmin = "ct_bench-attack-regulator-0123456789"

// benchBodyAttack starts `credtrace serve` (exe) as a child process on a fresh data
// directory and, for each path, opens conns connections at once that announce size-byte
// bodies and send them, sampling the child's resident memory (VmRSS in /proc/<pid>/status)
// every 10 ms. A child process, so that the figure is the service's own memory, untouched by
// the load generator's or by the bench's earlier steps.
func benchBodyAttack(ctx context.Context, exe, dir string, conns, size int, paths ...string) ([]bodyAttack, error) {
	addr, pid, stop, err := startServe(ctx, exe, dir, []string{"CREDTRACE_ADMIN_TOKEN=" + attackAdmin}, "--anomaly-schedule", "")
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	defer stop()

	var results []bodyAttack
	for _, path := range paths {
		token := ""
		if strings.HasPrefix(path, "/v1/") {
			token = attackAdmin
		}
		base, _ := procRSS(pid)
		r := bodyAttack{path: path, baseRSS: base, statuses: map[int]int{}}
		var peak atomic.Int64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				if cur, _ := procRSS(pid); cur > peak.Load() {
					peak.Store(cur)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		start := time.Now()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status := attackOne(addr, path, token, size)
				mu.Lock()
				r.statuses[status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		r.took = time.Since(start)
		close(stop)
		<-sampled
		r.peakRSS = peak.Load()
		results = append(results, r)
	}
	return results, nil
}

// startServe starts `credtrace serve` (exe) as a child process on a loopback port with the
// data directory dir, env added to this process's environment and args after the address and
// directory flags. It answers the address the service printed, its process id, and a stop
// that interrupts it and waits for it to end.
func startServe(ctx context.Context, exe, dir string, env []string, args ...string) (addr string, pid int, stop func(), err error) {
	cmd := exec.CommandContext(ctx, exe, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("the service printed no address: %w", err)
	}
	_, rest, ok := strings.Cut(line, " listening on http://")
	if !ok {
		stop()
		return "", 0, nil, fmt.Errorf("unexpected first line %q", line)
	}
	addr, _, _ = strings.Cut(rest, " ")
	go io.Copy(io.Discard, out)
	return addr, cmd.Process.Pid, stop, nil
}

// attackOne sends one request announcing size bytes, then the bytes (a JSON array of
// spaces, so that an authorised route reads and decodes it whole), and answers the status
// the service gave (0 when it gave none).
func attackOne(addr, path, token string, size int) int {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, size)
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	status := make(chan int, 1)
	go func() {
		br := bufio.NewReader(conn)
		l, err := br.ReadString('\n')
		var code int
		if err == nil {
			fmt.Sscanf(l, "HTTP/1.1 %d", &code)
		}
		status <- code
	}()
	if _, err := io.WriteString(conn, head+"\r\n["); err == nil {
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for sent := 1; sent < size-1; sent += len(chunk) {
			n := min(len(chunk), size-1-sent)
			if _, err := conn.Write(chunk[:n]); err != nil {
				break // refused: the service closed the connection without reading on
			}
		}
		conn.Write([]byte("]"))
	}
	return <-status
}

// procRSS reads the resident set (VmRSS) and its peak (VmHWM) of process pid, in bytes.
func procRSS(pid int) (cur, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fmt.Sscan(v, &kb)
			cur = kb << 10
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Sscan(v, &kb)
			peak = kb << 10
		}
	}
	return cur, peak
}

func (a bodyAttack) answers() string {
	var parts []string
	for _, code := range []int{413, 401, 422, 503, 200, 0} {
		if n := a.statuses[code]; n > 0 {
			name := fmt.Sprint(code)
			if code == 0 {
				name = "none"
			}
			parts = append(parts, fmt.Sprintf("%d×%s", n, name))
		}
	}
	return strings.Join(parts, ", ")
}
