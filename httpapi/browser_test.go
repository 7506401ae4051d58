package httpapi_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser, installed by `make test` (Debian's chromium package). Outside CI a
// machine without it skips the browser test; in CI its absence fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: `make test` installs Debian's chromium package")
	}
	t.Skip("no chromium on PATH (make test installs it)")
	return ""
}

// artefacts is where the browser test leaves its screenshots.
func artefacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CREDTRACE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowserApproveSanction drives a real headless Chromium against a real listener: a
// regulator signs in, approves a sanction proposal from the dashboard, and the firm's public page
// then shows it; screenshots at a laptop and a phone width are kept as test artefacts.
func TestBrowserApproveSanction(t *testing.T) {
	bin := chromium(t)
	e := newEnv(t)
	w := e.world()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.App().Listener(ln)
	t.Cleanup(func() { e.srv.StopStreams(); e.srv.App().ShutdownWithTimeout(5 * time.Second) })
	base := "http://" + ln.Addr().String()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func(what string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		step(what, err)
		return v
	}
	shot := func(what string, full bool) []byte {
		t.Helper()
		a := chromedp.CaptureScreenshot()
		if full {
			a = chromedp.FullScreenshot(100) // 100: PNG
		}
		v, err := chromedp.Run(ctx, a)
		step(what, err)
		return v
	}
	form := `form[action="/ui/sanctions/` + w.proposal + `/decision"]`
	step("public page", chromedp.Do(ctx, chromedp.Navigate(base+"/ui/firms/"+usccFor(1))))
	publicBefore := text("public page")
	step("sign in", chromedp.Do(ctx,
		chromedp.Navigate(base+"/ui/signin"),
		chromedp.SendKeys(chromedp.CSS("#token"), adminTk),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/overview"]`)),
		chromedp.Navigate(base+"/ui/overview"),
		chromedp.WaitVisible(chromedp.CSS("svg"))))
	laptop := shot("overview at a laptop width", true)
	step("phone width", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))
	phone := shot("overview at a phone width", true)
	step("proposals", chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/ui/sanctions"),
		chromedp.WaitVisible(chromedp.CSS(form))))
	before := shot("proposals", false)
	step("approve", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(form+` input[name="reason"]`), "核实无误"),
		chromedp.Click(chromedp.CSS(form+` button[value="true"]`)),
		// The answer redirects to the list, now without the proposal.
		chromedp.WaitVisible(chromedp.CSS("#no-proposals"))))
	after := shot("after the approval", false)
	step("public page again", chromedp.Do(ctx, chromedp.Navigate(base+"/ui/firms/"+usccFor(1))))
	publicAfter := text("public page again")
	if got := e.must(200, "GET", "/v1/sanctions/"+w.proposal, adminTk, nil)["status"]; got != "approved" {
		t.Fatalf("the proposal is %v after the click, want approved", got)
	}
	if got, want := strings.Count(publicAfter, "public_exposure"), strings.Count(publicBefore, "public_exposure")+1; got != want {
		t.Errorf("the public page shows %d public exposures after the approval, want %d:\n%s", got, want, publicAfter)
	}
	dir := artefacts(t)
	for name, b := range map[string][]byte{"overview-laptop.png": laptop, "overview-phone.png": phone, "sanctions-before.png": before, "sanctions-after.png": after} {
		if len(b) == 0 {
			t.Errorf("no screenshot %s", name)
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
