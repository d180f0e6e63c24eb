#!/usr/bin/env node
/**
 * The installed entry point (dist/mitigator.cjs). Flowmon starts one `append` per detection, so
 * start-up time matters: this loads the bundled CLI (dist/mitigator-cli.cjs) with V8's code cache
 * (dist/mitigator-cli.cjs.cache, made by `npm run build` from a real `append` run), which skips
 * parsing and compiling most of the bundle: about 200 ms → 140 ms per start on the reference
 * machine. It is CommonJS, not an ES module: Node 20 sets up its ES module loader for an .mjs
 * entry, which cost another 15-40 ms per start. A missing or rejected cache (another Node version,
 * other V8 flags) only costs speed: the bundle is compiled as usual, and the next `append` writes
 * a fresh cache beside it when the directory is writable. Only an `append` writes it: commands
 * load lazily, so a cache written by `status` or `reconcile` would hold little of what `append`,
 * the command started once per detection, runs.
 */
import * as fs from "node:fs"
import Module, { createRequire } from "node:module"
import * as path from "node:path"
import * as vm from "node:vm"

const bundle = path.join(__dirname, "mitigator-cli.cjs")
const cacheFile = `${bundle}.cache`

const readCache = (): Buffer | undefined => {
  try {
    return fs.readFileSync(cacheFile)
  } catch {
    return undefined
  }
}

const cachedData = readCache()
// Latin-1: the bundle is ASCII (build.ts checks it), and Latin-1 is read without UTF-8's decoding.
const text = fs.readFileSync(bundle, "latin1")
const source = text.startsWith("#!") ? `//${text.slice(2)}` : text
const script = new vm.Script(Module.wrap(source), { filename: bundle, ...(cachedData === undefined ? {} : { cachedData }) })

const stale = cachedData === undefined || script.cachedDataRejected === true
if ((stale && process.argv[2] === "append") || process.env["MITIGATOR_WRITE_CODE_CACHE"] === "1") {
  // At exit, so the cache also holds the functions this run compiled lazily.
  process.once("exit", () => {
    const temporary = `${cacheFile}.${process.pid}.tmp`
    try {
      fs.writeFileSync(temporary, script.createCachedData())
      fs.renameSync(temporary, cacheFile)
    } catch {
      fs.rmSync(temporary, { force: true })
    }
  })
}

type CommonJsWrapper = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void
const wrapper = script.runInThisContext() as CommonJsWrapper
const module = { exports: {} }
wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, path.dirname(bundle))
