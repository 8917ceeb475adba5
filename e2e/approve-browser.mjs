#!/usr/bin/env node
// Completes the user-facing part of an OAuth authorization by driving the
// PDS's real sign-in/consent web UI in headless Debian Chromium
// (playwright-core; never downloads a browser).
//
//   node approve-browser.mjs <authorization-url> <handle-or-email> <password> [--deny] [--screenshots DIR] [--json]
//
// Prints the final redirect URL (client's redirect_uri?code=..&state=..&iss=..).
// The URL is taken from the browser's request event for the first navigation
// that leaves the PDS origin (the PDS's 303 to the redirect_uri). Chromium is
// started with --host-resolver-rules so that localhost means 127.0.0.1 and no
// other name resolves (no DNS query); a loopback redirect_uri with no server
// behind it just fails to load after it was captured, which is fine.
// Sub-resource requests to other origins are aborted. An authorization URL is
// single-use and bound to the first browser profile that loads it.
//
// Env: CHROMIUM_PATH (default /usr/bin/chromium)
//
// Copied from the project's interop harness (shared/interop); browser_test.go runs it.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
  // localhost -> 127.0.0.1 (not ::1), every other name unresolvable: no DNS
  "--host-resolver-rules=MAP localhost 127.0.0.1 , MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

let sharedBrowser = null
async function getBrowser() {
  if (sharedBrowser) return sharedBrowser
  const { chromium } = await import('playwright-core')
  sharedBrowser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  })
  return sharedBrowser
}
export async function closeBrowser() {
  if (sharedBrowser) await sharedBrowser.close()
  sharedBrowser = null
}

/**
 * @returns {Promise<{redirectUrl: string, method: string, postData?: string, steps: string[]}>}
 */
export async function approveInBrowser(authorizationUrl, username, password, options = {}) {
  const { deny = false, screenshots, timeoutMs = 30000, keepBrowser = false } = options
  const authUrl = new URL(authorizationUrl)
  const origin = authUrl.origin
  const browser = await getBrowser()
  const context = await browser.newContext()
  const page = await context.newPage()
  const steps = []
  let shot = 0
  const shotNames = new Set()
  const snap = async (name) => {
    if (!screenshots || shotNames.has(name)) return
    shotNames.add(name)
    fs.mkdirSync(screenshots, { recursive: true })
    await page.screenshot({ path: path.join(screenshots, `${String(++shot).padStart(2, '0')}-${name}.png`) })
  }

  let captured = null
  let resolveCaptured
  const capturedP = new Promise((r) => (resolveCaptured = r))
  const capture = (req) => {
    if (captured) return
    captured = { redirectUrl: req.url(), method: req.method(), postData: req.postData() ?? undefined }
    resolveCaptured(captured)
  }
  // redirects (303 from /oauth/authorize/redirect) are not routed by
  // playwright, but they do fire "request" events
  context.on('request', (req) => {
    const u = new URL(req.url())
    if (u.origin !== origin && req.isNavigationRequest() && /^https?:$/.test(u.protocol)) capture(req)
  })
  await context.route('**/*', async (route) => {
    const req = route.request()
    const u = new URL(req.url())
    if (u.origin === origin || u.protocol === 'data:' || u.protocol === 'blob:') return route.continue()
    if (req.isNavigationRequest()) {
      // e.g. response_mode=form_post: the browser POSTs a form to the client
      capture(req)
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'interop: redirect captured' })
    }
    return route.abort() // never reach out to anything else
  })

  const deadline = Date.now() + timeoutMs
  try {
    try {
      await page.goto(authUrl.href)
    } catch (err) {
      // e.g. the PDS answered the page load with an error redirect straight to
      // the client (expired/foreign request_uri) and nothing listens there
      if (!captured) throw err
    }
    steps.push(captured ? 'authorization page redirected straight to the client' : 'loaded authorization page')
    await snap('loaded')
    // Every locator call gets a short timeout: the UI re-renders between
    // screens, and an element seen a moment ago may be gone (an action on it
    // would otherwise wait for playwright's default 30 s). Errors inside one
    // iteration are transient; the loop retries until the overall deadline.
    const T = { timeout: 1000 }
    const visible = async (loc) => (await loc.count()) > 0 && (await loc.first().isVisible())
    const clicked = new Set()
    const clickOnce = async (loc, key, label) => {
      // each screen's button is clicked once; the UI disables it while busy
      if (clicked.has(key)) return
      if (!(await loc.first().isEnabled(T))) return
      clicked.add(key)
      await loc.first().click({ timeout: 5000 })
      steps.push(label)
    }
    let lastErr = ''
    while (!captured) {
      if (Date.now() > deadline) {
        await snap('timeout')
        throw new Error(`timed out; steps: ${steps.join(' | ')}${lastErr ? `; last error: ${lastErr}` : ''}; page text: ${(await page.innerText('body').catch(() => '')).slice(0, 300)}`)
      }
      const pw = page.locator('input[name="password"]')
      const userInput = page.locator('input[name="username"]')
      const btn = (re) => page.getByRole('button', { name: re })
      const consentBtn = btn(/^(Authorize|Accept|Allow|Approve)$/i)
      const denyBtn = btn(/^(Deny access|Cancel|Deny|Decline|Reject)$/i)
      const entryBtn = btn(/^(Sign in|Use another account|Another account|Other account)$/i)
      try {
        if (deny && (await visible(denyBtn))) {
          await snap('deny')
          await clickOnce(denyBtn, `deny:${page.url()}`, 'clicked deny/cancel')
        } else if (!deny && !clicked.has('sign-in') && (await visible(pw))) {
          if (await visible(userInput)) {
            const ro = await userInput.first().getAttribute('readonly', T)
            const val = await userInput.first().inputValue(T)
            if (ro == null && val !== username) await userInput.first().fill(username, T)
          }
          if ((await pw.first().inputValue(T)) !== password) await pw.first().fill(password, T)
          await snap('credentials')
          await clickOnce(page.locator('button[type="submit"]'), 'sign-in', 'submitted sign-in form')
        } else if (!deny && (await visible(consentBtn))) {
          await snap('consent')
          await clickOnce(consentBtn, 'consent', 'clicked Authorize on consent screen')
        } else if (!deny && !clicked.has('sign-in') && (await visible(entryBtn))) {
          await clickOnce(entryBtn, 'entry', 'clicked sign-in entry button')
        }
      } catch (err) {
        if (captured) break
        lastErr = err.message.split('\n')[0]
      }
      await Promise.race([capturedP, page.waitForTimeout(100)])
      if (captured) break
      try {
        const alert = page.locator('[role="alert"]')
        if (await visible(alert)) {
          const t = (await alert.first().innerText(T)).trim()
          if (t && !steps.includes(`alert: ${t}`)) steps.push(`alert: ${t}`)
          if (/invalid|incorrect|wrong/i.test(t)) throw new Error(`sign-in error shown by the UI: ${t}`)
        }
      } catch (err) {
        if (/sign-in error shown by the UI/.test(err.message)) throw err
      }
    }
    steps.push('captured redirect to client')
    return { ...captured, steps }
  } finally {
    await context.close()
    if (!keepBrowser) await closeBrowser()
  }
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]
if (isMain) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      deny: { type: 'boolean', default: false },
      screenshots: { type: 'string' },
      json: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '30000' },
    },
  })
  if (positionals.length !== 3) {
    console.error('usage: node approve-browser.mjs <authorization-url> <handle-or-email> <password> [--deny] [--screenshots DIR] [--json]')
    process.exit(2)
  }
  const [url, user, pass] = positionals
  try {
    const out = await approveInBrowser(url, user, pass, { ...values, timeoutMs: Number(values.timeout) })
    if (values.json) console.log(JSON.stringify(out, null, 2))
    else console.log(out.redirectUrl)
  } catch (err) {
    console.error(`approve-browser failed: ${err.message}`)
    process.exit(1)
  }
}
