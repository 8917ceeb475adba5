#!/usr/bin/env node
// The reference atproto network for the Go end-to-end tests (network_test.go
// starts it): a PLC directory (@did-plc/server, in-memory) and a PDS
// (@atproto/pds with its built-in OAuth authorization server), on loopback,
// with the accounts alice.test and bob.test.
//
// Adapted from the project's interop harness (shared/interop/network.mjs).
//
// Usage: node network.mjs --pds-port P --plc-port Q --out FILE [--data-dir DIR] [--quiet]
//        node network.mjs --appview --appview-port A --ozone-port O ...   (also the Bluesky
//          AppView, Ozone and bsync, through @atproto/dev-env's TestNetwork; needs
//          DB_POSTGRES_URL (a PostgreSQL the tests start) and REDIS_HOST (any value:
//          dev-env asserts it is set, nothing connects to it))
//
// When ready it writes FILE (JSON: URLs, accounts, ...) and prints one line
// {"ready":true,...} on stdout. With --control, it then reads commands from
// stdin, one a line, "<id> <command> [arg]", each answered by one JSON line on
// stdout, {"ctl":<id>,"cmd":"<command>",...}:
//   ttl <seconds>   access-token lifetime of tokens issued from now on (0: the default, 1 h)
//   stats           {"refreshGrants":N,"refreshReplays":M,"ttl":S}: refresh-token grants the
//                   authorization server received, and how many were replays
//   ping            {"pong":true}
// It stops (and deletes its data) on SIGINT, SIGTERM or, with --control, when
// stdin closes, so it never outlives the test process that started it.
//
// Must run on Node >= 22 (the tests install one into .runtime/).
import './lib/bind-loopback.mjs'
import './lib/host-map.mjs'
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BIND_HOST } from './lib/bind-loopback.mjs'
import { LOOPBACK_HOSTS } from './lib/host-map.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const env = process.env

const { values: opts } = parseArgs({
  options: {
    'pds-port': { type: 'string', default: env.INTEROP_PDS_PORT || '2583' },
    'plc-port': { type: 'string', default: env.INTEROP_PLC_PORT || '2582' },
    'appview-port': { type: 'string', default: env.INTEROP_APPVIEW_PORT || '2584' },
    'ozone-port': { type: 'string', default: env.INTEROP_OZONE_PORT || '2585' },
    appview: { type: 'boolean', default: false },
    // read commands from stdin and stop when it closes (what the Go tests use)
    control: { type: 'boolean', default: false },
    out: { type: 'string', default: env.INTEROP_OUT || path.join(HERE, 'data', 'network.json') },
    'data-dir': { type: 'string', default: env.INTEROP_DATA_DIR || '' },
    'keep-data': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
})

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  console.error(
    `network.mjs: Node ${process.versions.node} is too old; @atproto/pds 0.5 needs Node >= 22 ` +
      `(undici 8 uses zlib zstd); the Go tests install one into .runtime/.`,
  )
  process.exit(2)
}

const log = (...a) => {
  if (!opts.quiet) console.error('[interop]', ...a)
}

const PDS_PORT = Number(opts['pds-port'])
const PLC_PORT = Number(opts['plc-port'])
// dev-env (--appview) hard-codes 'admin-pass' for its own admin calls
const ADMIN_PASSWORD = opts.appview ? 'admin-pass' : env.INTEROP_ADMIN_PASSWORD || 'admin-pass'
const JWT_SECRET = 'interop-jwt-secret'
const ACCOUNTS = [
  { handle: 'alice.test', email: 'alice@interop.test', password: 'alice-password' },
  { handle: 'bob.test', email: 'bob@interop.test', password: 'bob-password' },
]

const runId = `${Date.now()}-${process.pid}`
const dataDir = path.resolve(opts['data-dir'] || path.join(HERE, 'data', `run-${runId}`))
// only ever delete a data dir this process created
const createdDataDir = !fs.existsSync(dataDir)
fs.mkdirSync(dataDir, { recursive: true })
const outFile = path.resolve(opts.out)
fs.mkdirSync(path.dirname(outFile), { recursive: true })

let closers = []
let shuttingDown = false
async function shutdown(code = 0) {
  if (shuttingDown) return
  shuttingDown = true
  log('shutting down')
  for (const c of closers.reverse()) {
    try {
      await c()
    } catch (err) {
      console.error('[interop] error during shutdown:', err?.message || err)
    }
  }
  try {
    // only remove the file if it is ours
    const cur = JSON.parse(fs.readFileSync(outFile, 'utf8'))
    if (cur.pid === process.pid) fs.rmSync(outFile, { force: true })
  } catch {}
  if (!opts['keep-data'] && createdDataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  log('stopped')
  process.exit(code)
}
process.on('SIGINT', () => shutdown(0))
process.on('SIGTERM', () => shutdown(0))
// Background workers (AppView subscription, pg pools) may emit errors while
// being torn down; don't let that abort the cleanup.
for (const ev of ['uncaughtException', 'unhandledRejection']) {
  process.on(ev, (err) => {
    if (shuttingDown) {
      console.error(`[interop] (ignored during shutdown) ${err?.message || err}`)
      return
    }
    console.error(`[interop] fatal ${ev}:`, err)
    shutdown(1)
  })
}

async function xrpc(base, nsid, { method = 'GET', body, params, headers = {} } = {}) {
  const url = new URL(`/xrpc/${nsid}`, base)
  for (const [k, v] of Object.entries(params || {})) url.searchParams.set(k, v)
  const res = await fetch(url, {
    method,
    headers: body ? { 'content-type': 'application/json', ...headers } : headers,
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${nsid} -> ${res.status} ${text}`)
  return text ? JSON.parse(text) : null
}

// Mirror of @atproto/dev-env's mockResolvers(): the PDS resolves *.test
// handles against itself (/.well-known/atproto-did with a Host header),
// since there is no DNS for .test.
function mockPdsResolvers(idResolver, pdsUrl, handleDomains) {
  const origResolveDns = idResolver.handle.resolveDns
  idResolver.handle.resolve = async (handle) => {
    if (!handleDomains.some((d) => handle.endsWith(d))) {
      return origResolveDns.call(idResolver.handle, handle)
    }
    const http = await import('node:http')
    const u = new URL('/.well-known/atproto-did', pdsUrl)
    return new Promise((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port: u.port, path: u.pathname, headers: { host: handle } },
        (res) => {
          let buf = ''
          res.setEncoding('utf8')
          res.on('data', (d) => (buf += d))
          res.on('end', () => resolve(res.statusCode === 200 ? buf.trim() : undefined))
        },
      )
      req.on('error', () => resolve(undefined))
      req.end()
    })
  }
}

async function startPdsOnly() {
  const t0 = performance.now()
  const [{ PDS }, plcServer, { Secp256k1Keypair }, ui8] = await Promise.all([
    import('@atproto/pds'),
    import('@did-plc/server'),
    import('@atproto/crypto'),
    import('uint8arrays'),
  ])
  log(`modules loaded in ${Math.round(performance.now() - t0)} ms`)

  // PLC directory: the real @did-plc/server, with its in-memory ("mock") DB.
  const plcDb = plcServer.Database.mock()
  const plc = plcServer.PlcServer.create({ db: plcDb, port: PLC_PORT })
  await plc.start()
  closers.push(() => plc.destroy())
  const plcUrl = `http://localhost:${PLC_PORT}`
  log(`PLC listening on ${BIND_HOST}:${PLC_PORT} (${plcUrl})`)

  const plcRotationKey = await Secp256k1Keypair.create({ exportable: true })
  const recoveryKey = (await Secp256k1Keypair.create()).did()
  const pds = await PDS.fromEnv({
    devMode: true,
    port: PDS_PORT,
    // hostname 'localhost' => publicUrl/issuer http://localhost:<port>
    dataDirectory: dataDir,
    blobstoreDiskLocation: path.join(dataDir, 'blobs'),
    recoveryDidKey: recoveryKey,
    adminPassword: ADMIN_PASSWORD,
    jwtSecret: JWT_SECRET,
    didPlcUrl: plcUrl,
    serviceHandleDomains: ['.test'],
    // no AppView in this mode: app.bsky.* reads other than preferences fail
    bskyAppViewUrl: 'https://appview.invalid',
    bskyAppViewDid: 'did:example:invalid',
    bskyAppViewCdnUrlPattern: 'http://cdn.appview.invalid/%s/%s/%s',
    modServiceUrl: 'https://moderator.invalid',
    modServiceDid: 'did:example:invalid',
    plcRotationKeyK256PrivateKeyHex: ui8.toString(await plcRotationKey.export(), 'hex'),
    inviteRequired: false,
    disableSsrfProtection: true,
    serviceName: 'Interop PDS',
  })
  await pds.start()
  closers.push(() => pds.destroy())
  const pdsUrl = pds.ctx.cfg.service.publicUrl
  mockPdsResolvers(pds.ctx.idResolver, pdsUrl, pds.ctx.cfg.identity.serviceHandleDomains)
  log(`PDS listening on ${BIND_HOST}:${PDS_PORT} (${pdsUrl})`)
  return { plcUrl, pdsUrl, pds, appview: null }
}

async function startWithAppView() {
  const t0 = performance.now()
  if (!env.DB_POSTGRES_URL) throw new Error('--appview needs DB_POSTGRES_URL (the Go tests set it)')
  if (!env.REDIS_HOST) throw new Error('--appview needs REDIS_HOST (the Go tests set it)')
  const { TestNetwork } = await import('@atproto/dev-env')
  log(`modules loaded in ${Math.round(performance.now() - t0)} ms`)
  const schema = env.DB_POSTGRES_SCHEMA || `interop_${String(process.pid).replace(/\d/g, (d) => 'abcdefghij'[d])}`
  // closers run in reverse order: net.close() (pushed below) first, then
  // drop this run's schemas (also after a failed start)
  closers.push(async () => {
    // drop the postgres schemas this run created
    const pg = await import('pg').catch(() => null)
    if (!pg) return
    const client = new pg.default.Client({ connectionString: env.DB_POSTGRES_URL })
    await client.connect()
    for (const s of [`appview_${schema}`, `bsync_${schema}`, `ozone_${schema}`]) {
      await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
    }
    await client.end()
  })
  // TestNetwork also starts a short-lived second PDS with the same `pds`
  // params, so no dataDirectory here: TestPds puts its data in os.tmpdir(),
  // which we point into our data dir so it is removed on shutdown.
  process.env.TMPDIR = dataDir
  const net = await TestNetwork.create({
    dbPostgresSchema: schema,
    plc: { port: PLC_PORT },
    pds: {
      port: PDS_PORT,
      serviceName: 'Interop PDS',
    },
    bsky: { port: Number(opts['appview-port']) },
    ozone: { port: Number(opts['ozone-port']) },
  })
  closers.push(() => net.close())
  log(`PLC ${net.plc.url}, PDS ${net.pds.url}, AppView ${net.bsky.url}, Ozone ${net.ozone.url}`)
  return {
    plcUrl: net.plc.url,
    pdsUrl: net.pds.ctx.cfg.service.publicUrl,
    pds: net.pds.server,
    appview: {
      url: net.bsky.url,
      did: net.bsky.ctx.cfg.serverDid,
      ozoneUrl: net.ozone.url,
      net,
    },
  }
}

async function main() {
  const started = opts.appview ? await startWithAppView() : await startPdsOnly()
  const { plcUrl, pdsUrl } = started

  // Access-token lifetime (default 60 min): settable at start and, through
  // the "ttl" command, at run time, to exercise expiry-driven refresh.
  const tm = started.pds.ctx.oauthProvider?.tokenManager
  if (!tm || typeof tm.tokenMaxAge !== 'number' || typeof tm.consumeRefreshToken !== 'function') {
    throw new Error('oauth-provider internals changed: tokenManager.tokenMaxAge / consumeRefreshToken')
  }
  const defaultMaxAge = tm.tokenMaxAge
  const ttlS = Number(env.INTEROP_ACCESS_TOKEN_TTL_S || 0)
  if (ttlS > 0) tm.tokenMaxAge = ttlS * 1000
  // Count the refresh-token grants that reach the authorization server, and
  // the replays among them (which revoke the whole session).
  const stats = { refreshGrants: 0, refreshReplays: 0 }
  const origConsume = tm.consumeRefreshToken.bind(tm)
  tm.consumeRefreshToken = async (token) => {
    stats.refreshGrants++
    try {
      return await origConsume(token)
    } catch (err) {
      if (/replayed/i.test(String(err?.message))) stats.refreshReplays++
      throw err
    }
  }

  // Optional: make the OAuth provider re-fetch client metadata / JWKS on every
  // use instead of caching them for 10 minutes (its default).
  const noClientCache = /^(1|true|yes)$/i.test(env.INTEROP_NO_CLIENT_CACHE || '')
  if (noClientCache) {
    const cm = started.pds.ctx.oauthProvider?.clientManager
    for (const g of [cm?.metadataGetter, cm?.jwks]) {
      if (!g) throw new Error('INTEROP_NO_CLIENT_CACHE: oauth-provider internals changed')
      const orig = g.get.bind(g)
      g.get = (key, o = {}) => orig(key, { ...o, noCache: true })
    }
  }

  // accounts
  const accounts = []
  for (const a of ACCOUNTS) {
    const res = await xrpc(pdsUrl, 'com.atproto.server.createAccount', {
      method: 'POST',
      body: { handle: a.handle, email: a.email, password: a.password },
    })
    accounts.push({
      handle: a.handle,
      did: res.did,
      password: a.password,
      email: a.email,
      didDocumentUrl: `${plcUrl}/${res.did}`,
      resolveHandleUrl: `${pdsUrl}/xrpc/com.atproto.identity.resolveHandle?handle=${a.handle}`,
    })
  }
  if (started.appview) {
    // let the AppView index the new accounts so getProfile works right away
    await started.appview.net.processAll()
  }

  const asMeta = await (await fetch(`${pdsUrl}/.well-known/oauth-authorization-server`)).json()
  const prMeta = await (await fetch(`${pdsUrl}/.well-known/oauth-protected-resource`)).json()
  const describe = await xrpc(pdsUrl, 'com.atproto.server.describeServer')

  const info = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    // ms from node process start to "ready" (accounts created, this file written)
    startupMs: Math.round(performance.now()),
    node: process.version,
    bindHost: BIND_HOST,
    dataDir,
    plc: {
      url: plcUrl,
      port: PLC_PORT,
      implementation: '@did-plc/server with in-memory DB (Database.mock()); all state lost on exit',
      endpoints: {
        didDocument: `GET ${plcUrl}/{did}  -> DID document (JSON)`,
        didData: `GET ${plcUrl}/{did}/data`,
        auditLog: `GET ${plcUrl}/{did}/log/audit`,
      },
    },
    pds: {
      url: pdsUrl,
      port: PDS_PORT,
      did: describe.did,
      issuer: asMeta.issuer,
      availableUserDomains: describe.availableUserDomains,
      adminPassword: ADMIN_PASSWORD,
      adminAuthHeader: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`,
      oauth: {
        protectedResourceMetadataUrl: `${pdsUrl}/.well-known/oauth-protected-resource`,
        authorizationServerMetadataUrl: `${pdsUrl}/.well-known/oauth-authorization-server`,
        authorization_servers: prMeta.authorization_servers,
        pushed_authorization_request_endpoint: asMeta.pushed_authorization_request_endpoint,
        authorization_endpoint: asMeta.authorization_endpoint,
        token_endpoint: asMeta.token_endpoint,
        revocation_endpoint: asMeta.revocation_endpoint,
        jwks_uri: asMeta.jwks_uri,
        scopes_supported: asMeta.scopes_supported,
        token_endpoint_auth_methods_supported: asMeta.token_endpoint_auth_methods_supported,
        token_endpoint_auth_signing_alg_values_supported:
          asMeta.token_endpoint_auth_signing_alg_values_supported,
        dpop_signing_alg_values_supported: asMeta.dpop_signing_alg_values_supported,
        client_id_metadata_document_supported: asMeta.client_id_metadata_document_supported,
      },
    },
    appview: started.appview
      ? {
          url: started.appview.url,
          did: started.appview.did,
          ozoneUrl: started.appview.ozoneUrl,
          note: 'PDS proxies app.bsky.* to this AppView (atproto-proxy default). Indexing is asynchronous.',
        }
      : null,
    accounts,
    handleResolution: {
      summary:
        'Handles are *.test; there is no DNS for them. Resolve handle->DID with the PDS XRPC method, ' +
        'then DID->DID document from the PLC directory. The DID document points back to the PDS (#atproto_pds).',
      handleToDid: [
        `GET ${pdsUrl}/xrpc/com.atproto.identity.resolveHandle?handle=<handle>  -> {"did": "..."}`,
        `GET http://127.0.0.1:${PDS_PORT}/.well-known/atproto-did with header "Host: <handle>"  -> DID as text/plain (HTTP, not HTTPS, non-443 port: not spec-conformant, only for tests)`,
      ],
      didToDocument: `GET ${plcUrl}/<did>  -> DID document JSON (alsoKnownAs at://<handle>, service #atproto_pds -> ${pdsUrl})`,
      dns: 'No _atproto TXT records exist; DNS handle resolution cannot work here.',
    },
    loopbackHostsMappedInPds: [...LOOPBACK_HOSTS],
    confidentialClientTls: {
      note:
        'To test a discoverable (https) client_id: serve its metadata/JWKS on 127.0.0.1:<any port> with this leaf cert, ' +
        'as https://client.interop.internal:<port>/oauth-client-metadata.json (any *.interop.internal name works). ' +
        'The PDS resolves those names to 127.0.0.1 in-process and trusts caCert via NODE_EXTRA_CA_CERTS.',
      leafNames: ['client.interop.internal', '*.interop.internal'],
    },
    extraCaCerts: env.NODE_EXTRA_CA_CERTS || null,
    accessTokenLifetimeSeconds: ttlS > 0 ? ttlS : 3600,
    clientMetadataCache: noClientCache ? 'disabled (INTEROP_NO_CLIENT_CACHE=1)' : 'oauth-provider default: client metadata and JWKS cached in memory for 10 minutes per URL',
    notes: [
      'Issuer / PDS URL use the hostname "localhost" (the PDS derives http://localhost:<port> in dev mode); servers listen on 127.0.0.1 only.',
      'devMode is on: SSRF protection is disabled, so the PDS will fetch http:// and loopback client metadata/JWKS URLs.',
    ],
  }
  fs.writeFileSync(outFile + '.tmp', JSON.stringify(info, null, 2))
  fs.renameSync(outFile + '.tmp', outFile)
  log(`ready in ${info.startupMs} ms (process start -> ready); wrote ${outFile}`)
  // single machine-readable line on stdout for scripts
  console.log(JSON.stringify({ ready: true, file: outFile, pdsUrl, plcUrl, startupMs: info.startupMs }))

  if (!opts.control) return
  // Commands on stdin; EOF (the test process is gone) stops the network.
  const readline = await import('node:readline')
  const rl = readline.createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    log(`${new Date().toISOString()} command: ${line}`)
    // "<id> <command> [arg]": the answer repeats the id
    const [id, cmd, arg] = line.trim().split(/\s+/)
    let out
    switch (cmd) {
      case 'ttl': {
        const s = Number(arg)
        if (!Number.isFinite(s) || s < 0) {
          out = { error: `bad ttl ${arg}` }
          break
        }
        tm.tokenMaxAge = s > 0 ? s * 1000 : defaultMaxAge
        out = { ttl: tm.tokenMaxAge / 1000 }
        break
      }
      case 'stats':
        out = { ...stats, ttl: tm.tokenMaxAge / 1000 }
        break
      case 'ping':
        out = { pong: true }
        break
      default:
        out = { error: `unknown command ${cmd}` }
    }
    console.log(JSON.stringify({ ctl: Number(id), cmd, ...out }))
  })
  rl.on('close', () => shutdown(0))
}

main().catch(async (err) => {
  console.error('[interop] startup failed:', err)
  await shutdown(1)
})
