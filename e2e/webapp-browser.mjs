#!/usr/bin/env node
// Drives examples/webapp through a whole visit in headless Debian Chromium
// (playwright-core; never downloads a browser), as a person would: open the
// app, type the handle, sign in and consent on the PDS's real UI, land on the
// home page (profile), post, sign out.
//
//   node webapp-browser.mjs <app-url> <handle> <password> [--text T] [--screenshots DIR] [--timeout MS]
//
// Prints one JSON summary on stdout (webapp_browser_test.go asserts it); on a
// failure, prints the summary so far with "error" set, and exits 1.
//
// Only loopback traffic: Chromium resolves localhost to 127.0.0.1 and no other
// name (no DNS query), and every request to anything but 127.0.0.1 or
// localhost is aborted.
//
// Env: CHROMIUM_PATH (default /usr/bin/chromium)
//
// The PDS UI part follows approve-browser.mjs: every locator call gets a
// short timeout and the loop retries until the deadline, because the UI
// re-renders between screens.
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'

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
  '--host-resolver-rules=MAP localhost 127.0.0.1 , MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
]

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    text: { type: 'string' },
    screenshots: { type: 'string' },
    timeout: { type: 'string', default: '90000' },
  },
})
if (positionals.length !== 3) {
  console.error('usage: node webapp-browser.mjs <app-url> <handle> <password> [--text T] [--screenshots DIR] [--timeout MS]')
  process.exit(2)
}
const [appArg, handle, password] = positionals
const app = new URL(appArg)
const postText = values.text || `Hello from the webapp browser test, ${new Date().toISOString()}`
const deadline = Date.now() + Number(values.timeout)
const left = () => Math.max(1000, deadline - Date.now())
// T: the short timeout of one locator call inside a retry loop.
const T = { timeout: 1000 }

const summary = { app: app.origin, handle, steps: [], screenshots: [] }
const step = (s) => summary.steps.push(s)

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: CHROMIUM_ARGS,
})
let exitCode = 0
try {
  const context = await browser.newContext()
  const page = await context.newPage()
  page.setDefaultTimeout(10000)
  page.setDefaultNavigationTimeout(30000)
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url())
    if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue()
    if (/^https?:$/.test(u.protocol) && (u.hostname === '127.0.0.1' || u.hostname === 'localhost')) return route.continue()
    return route.abort() // never reach out to anything else
  })

  let shot = 0
  const snap = async (name) => {
    if (!values.screenshots) return
    fs.mkdirSync(values.screenshots, { recursive: true })
    const file = `${String(++shot).padStart(2, '0')}-${name}.png`
    await page.screenshot({ path: path.join(values.screenshots, file), fullPage: true }).catch(() => {})
    summary.screenshots.push(file)
  }
  const onApp = () => new URL(page.url()).origin === app.origin
  const visible = async (loc) => (await loc.count()) > 0 && (await loc.first().isVisible())
  const text = async (sel) => (await page.locator(sel).first().innerText()).trim()
  // me asks GET /api/me with this browser's cookies (the context's request
  // API shares them; the page's CSP would refuse a fetch from the page).
  const me = async () => {
    const res = await context.request.get(new URL('/api/me', app).href, { timeout: 15000 })
    let body = null
    try { body = await res.json() } catch { body = await res.text().catch(() => '') }
    return { status: res.status(), body }
  }
  const appError = async () => {
    const alert = page.locator('[role="alert"]')
    return onApp() && (await visible(alert)) ? (await alert.first().innerText(T)).trim() : ''
  }

  try {
    // 1. The signed-out page: the handle form.
    await page.goto(app.href)
    await page.locator('#handle').waitFor({ state: 'visible' })
    await page.locator('#signin').waitFor({ state: 'visible' })
    summary.signedOutTitle = await page.title()
    step('opened the app: sign-in form')
    await snap('app-signed-out')

    // 2. Type the handle, click Sign in: the app sends the browser to the PDS.
    await page.locator('#handle').fill(handle)
    await snap('handle-typed')
    await page.locator('#signin').click()
    step('typed the handle and clicked Sign in')

    // 3. The PDS's sign-in and consent screens, until the app's home page.
    const clicked = new Set()
    const clickOnce = async (loc, key, label) => {
      // each screen's button is clicked once; the UI disables it while busy
      if (clicked.has(key)) return
      if (!(await loc.first().isEnabled(T))) return
      clicked.add(key)
      await loc.first().click({ timeout: 5000 })
      step(label)
    }
    const snapped = new Set()
    const snapOnce = async (name) => {
      if (snapped.has(name)) return
      snapped.add(name)
      await snap(name)
    }
    let lastErr = ''
    for (;;) {
      if (Date.now() > deadline) {
        await snap('timeout')
        throw new Error(`timed out on ${page.url()}${lastErr ? `; last error: ${lastErr}` : ''}; page text: ${(await page.innerText('body').catch(() => '')).slice(0, 300)}`)
      }
      try {
        if (onApp()) {
          if (await visible(page.locator('#profile'))) break
          const msg = await appError()
          if (msg) throw new Error(`the app shows an error: ${msg}`)
        } else {
          if (!summary.pdsOrigin) {
            summary.pdsOrigin = new URL(page.url()).origin
            step(`on the PDS: ${summary.pdsOrigin}${new URL(page.url()).pathname}`)
          }
          const pw = page.locator('input[name="password"]')
          const userInput = page.locator('input[name="username"]')
          const btn = (re) => page.getByRole('button', { name: re })
          const consentBtn = btn(/^(Authorize|Accept|Allow|Approve)$/i)
          const entryBtn = btn(/^(Sign in|Use another account|Another account|Other account)$/i)
          if (!clicked.has('sign-in') && (await visible(pw))) {
            if (await visible(userInput)) {
              const ro = await userInput.first().getAttribute('readonly', T)
              const val = await userInput.first().inputValue(T)
              if (ro == null && val !== handle) await userInput.first().fill(handle, T)
            }
            if ((await pw.first().inputValue(T)) !== password) await pw.first().fill(password, T)
            await snapOnce('pds-sign-in')
            await clickOnce(page.locator('button[type="submit"]'), 'sign-in', 'signed in on the PDS')
          } else if (await visible(consentBtn)) {
            await snapOnce('pds-consent')
            await clickOnce(consentBtn, 'consent', 'clicked Authorize on the consent screen')
          } else if (!clicked.has('sign-in') && (await visible(entryBtn))) {
            await clickOnce(entryBtn, 'entry', 'clicked the sign-in entry button')
          }
          const alert = page.locator('[role="alert"]')
          if (await visible(alert)) {
            const t = (await alert.first().innerText(T)).trim()
            if (/invalid|incorrect|wrong/i.test(t)) throw new Error(`sign-in error shown by the PDS: ${t}`)
          }
        }
      } catch (err) {
        if (/error shown by the PDS|the app shows an error/.test(err.message)) throw err
        lastErr = err.message.split('\n')[0]
      }
      await page.waitForTimeout(150)
    }
    step('back on the app: home page')

    // 4. The home page shows the account.
    summary.homeUrl = page.url()
    summary.profile = await text('#profile')
    summary.profileHandle = await text('#profile #handle')
    summary.did = await text('#did')
    summary.feedTitle = await text('h2')
    await snap('home')
    summary.meSignedIn = await me()
    step(`GET /api/me: ${summary.meSignedIn.status}`)
    // The session cookie, so the test can replay it after the sign-out.
    summary.cookies = (await context.cookies(app.href)).map((c) => ({ name: c.name, value: c.value }))

    // 5. Post.
    await page.locator('#text').fill(postText)
    await snap('post-typed')
    await page.locator('#post').click()
    await page.waitForURL((u) => u.origin === app.origin && u.searchParams.get('posted') === '1', { timeout: left() })
    await page.locator('#profile').waitFor({ state: 'visible' })
    summary.postText = postText
    summary.postNotice = (await visible(page.locator('[role="status"]'))) ? await text('[role="status"]') : ''
    const article = page.locator('#feed article', { hasText: postText })
    await article.first().waitFor({ state: 'visible', timeout: 5000 }).catch(() => {})
    summary.postInFeed = (await article.count()) > 0
    step(`posted: notice ${JSON.stringify(summary.postNotice)}, in the feed: ${summary.postInFeed}`)
    await snap('posted')

    // 6. Sign out: back to the signed-out page.
    await page.locator('#logout').click()
    await page.locator('#signin').waitFor({ state: 'visible', timeout: left() })
    summary.signedOutUrl = page.url()
    summary.signedOutProfileShown = await visible(page.locator('#profile'))
    summary.signedOutContinue = (await visible(page.locator('#continue'))) ? await text('#continue') : ''
    summary.signedOutAlert = (await appError()) || ''
    step('signed out: sign-in form')
    await snap('signed-out')
    summary.meAfterLogout = await me()
    step(`GET /api/me after sign-out: ${summary.meAfterLogout.status}`)
    summary.ok = true
  } catch (err) {
    summary.error = err.message
    summary.url = page.url()
    await snap('failure')
    exitCode = 1
  } finally {
    await context.close().catch(() => {})
  }
} finally {
  await browser.close()
}
console.log(JSON.stringify(summary, null, 2))
process.exit(exitCode)
