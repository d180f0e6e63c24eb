/**
 * Parsing and validating a config file's text: YAML (JSON is YAML too) checked against the
 * config Schema. Loaded only when the cached, already validated config does not apply: the YAML
 * parser is a large module, and Flowmon starts mitigator once per detection.
 */
import * as Either from "effect/Either"
import { isPair, isScalar, LineCounter, parseDocument, visit, type Document, type YAMLError } from "yaml"
import { EMPTY_POLICY } from "../domain/Policy.js"
import { configError, type AppConfig, type ConfigError, type ConfigProblemAt } from "./AppConfig.js"
import { decodeConfigFile, formatPath, formatProblem, type ConfigFile, type ConfigProblem } from "./ConfigFile.js"

/** The key text a duplicate-key error points at. */
const keyAt = (doc: Document, offset: number): string | undefined => {
  let found: string | undefined
  visit(doc, {
    Pair: (_, pair) => {
      if (isPair(pair) && isScalar(pair.key) && pair.key.range?.[0] === offset) {
        found = String(pair.key.value)
        return visit.BREAK
      }
      return undefined
    }
  })
  return found
}

const syntaxProblem = (doc: Document, lines: LineCounter, error: YAMLError): ConfigProblemAt => {
  const { line, col } = lines.linePos(error.pos[0])
  let message = error.message
  let key: string | undefined
  if (error.code === "DUPLICATE_KEY") {
    key = keyAt(doc, error.pos[0])
    message = key === undefined ? "duplicate key" : `duplicate key ${JSON.stringify(key)}`
  } else if (error.code === "MULTIPLE_DOCS") {
    message = "a second YAML document (a config file holds one)"
  }
  return { line, ...(key === undefined ? {} : { key }), text: `line ${line}, column ${col}: ${message}` }
}

const failed = (reason: "syntax" | "invalid", source: string, problems: ReadonlyArray<ConfigProblemAt>) =>
  Either.left(
    configError(
      reason,
      source,
      problems.map((p) => p.text),
      problems
    )
  )

/** The offset of the first alias without an anchor before it (toJS refuses those). */
const unresolvedAliasAt = (doc: Document): number | undefined => {
  let found: number | undefined
  visit(doc, {
    Alias: (_, alias) => {
      if (alias.resolve(doc) === undefined && alias.range) {
        found = alias.range[0]
        return visit.BREAK
      }
      return undefined
    }
  })
  return found
}

/** Where in the file a path points (the nearest existing ancestor), to list problems in file order. */
const offsetOf = (doc: Document, path: ReadonlyArray<PropertyKey>): number => {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as Array<unknown>, true)
    if (node !== null && typeof node === "object" && "range" in node) {
      const range = (node as { range?: [number, number, number] | null }).range
      if (Array.isArray(range)) return range[0]
    }
  }
  return 0
}

const toAppConfig = (source: string, file: ConfigFile): AppConfig => ({
  source,
  database: file.database,
  ...(file.databasePasswordFile === undefined ? {} : { databasePasswordFile: file.databasePasswordFile }),
  instance: file.instance,
  timezone: file.timezone,
  loadmaster: file.loadmaster,
  cryptospike: file.cryptospike,
  policy: file.policy ?? EMPTY_POLICY,
  ...(file.serve === undefined ? {} : { serve: file.serve })
})

/** Parses and validates the text of a config file (pure; `source` names it in messages). */
export const parseConfigText = (text: string, source: string): Either.Either<AppConfig, ConfigError> => {
  const lines = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines })
  const yamlErrors = [...doc.errors, ...doc.warnings]
  if (yamlErrors.length > 0) {
    return failed("syntax", source, yamlErrors.map((e) => syntaxProblem(doc, lines, e)))
  }
  let raw: unknown
  try {
    raw = doc.toJS({ maxAliasCount: 100 })
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    const at = unresolvedAliasAt(doc)
    if (at === undefined) return failed("syntax", source, [{ text: message }])
    const { line, col } = lines.linePos(at)
    return failed("syntax", source, [{ line, text: `line ${line}, column ${col}: ${message}` }])
  }
  const decoded = decodeConfigFile(raw)
  if (Either.isRight(decoded)) return Either.right(toAppConfig(source, decoded.right))
  const ordered = decoded.left
    .map((problem, i): [ConfigProblem, number, number] => [problem, offsetOf(doc, problem.path), i])
    .sort((a, b) => a[1] - b[1] || a[2] - b[2])
    .map(([problem, offset]): ConfigProblemAt => ({
      line: lines.linePos(offset).line,
      ...(problem.path.length === 0 ? {} : { key: formatPath(problem.path) }),
      text: formatProblem(problem)
    }))
  return failed("invalid", source, ordered)
}

