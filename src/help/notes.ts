/**
 * What a command's definition cannot say about it: a one-line summary for the command list, what
 * it reads on stdin, examples, and its exit codes. Keyed by the command's path (`append`,
 * `import lm-timeout`). A command without an entry still has help (from its definition), without
 * these sections; test/cli/help.test.ts asserts every command has one.
 */

export interface CommandNotes {
  /** one line for the command list (else the definition's description) */
  readonly summary?: string
  /** what follows the usage line: `< events` */
  readonly stdin?: string
  readonly examples: ReadonlyArray<readonly [command: string, what: string]>
  /** the codes this command exits with, besides 70 (a bug) and 130 (a signal), which every command has */
  readonly exitCodes: ReadonlyArray<readonly [code: number, meaning: string]>
  /** an emulator stopped by a signal exits 0, not 130 */
  readonly signalExitsZero?: boolean
}

/** Every command exits with these too. */
export const COMMON_EXIT_CODES: ReadonlyArray<readonly [number, string]> = [
  [70, "a bug (the message asks to report it)"],
  [130, "stopped by SIGINT or SIGTERM"]
]

const CONFIG = "/home/flowmon/mitigator/mitigator.yaml"

export const NOTES: Readonly<Record<string, CommandNotes>> = {
  append: {
    summary: "Record Flowmon events read on stdin in the event log, decide blocks, apply them at once",
    stdin: "< events",
    examples: [
      [`mitigator append --config ${CONFIG} < events.tsv`, "record, decide and apply the new blocks at once (what Flowmon runs per detection)"],
      ["mitigator append --db /data/mitigator/mitigator.db --instance fm-collector-1 --timezone Europe/Prague < events.tsv", "name the log, the Flowmon instance and its time zone"],
      [`mitigator append --config ${CONFIG} --defer < events.tsv`, "record and decide only; the next reconcile applies"]
    ],
    exitCodes: [
      [0, "every line stored (duplicates count as stored)"],
      [3, "some lines rejected (recorded as InputRejected); the others stored"],
      [1, "nothing recorded: the log could not be written, or a bad command line or config"]
    ]
  },
  status: {
    summary: "Show the blocks in force now: target, address, until when, and why",
    examples: [
      [`mitigator status --config ${CONFIG}`, "the blocks in force, one per line"],
      ["mitigator status --db /data/mitigator/mitigator.db --json", "the same as one stable JSON object, for scripts"]
    ],
    exitCodes: [
      [0, "shown"],
      [1, "no event log there, or it cannot be read"]
    ]
  },
  reconcile: {
    summary: "Make the appliances' block lists match the desired state",
    examples: [
      [`mitigator reconcile --config ${CONFIG}`, "one pass: add what is missing, remove what mitigator owns and no longer wants"],
      [`mitigator reconcile --config ${CONFIG} --watch --interval 60s --metrics-file /run/mitigator.prom`, "run for good (systemd), a pass a minute"],
      [`mitigator reconcile --config ${CONFIG} --dry-run`, "show the plan, change nothing"]
    ],
    exitCodes: [
      [0, "converged (or --dry-run done; --watch: stopped cleanly)"],
      [1, "not converged (what failed is logged and retried next pass), or a bad command line or config"]
    ]
  },
  serve: {
    summary: "Receive Flowmon detections over HTTP(S), record and apply them at once, and reconcile",
    examples: [
      [`mitigator serve --config ${CONFIG} --token-file /etc/mitigator/serve.token`, "on 127.0.0.1:8787 (plain HTTP: loopback only); the reconcile loop runs in the same process"],
      [`mitigator serve --config ${CONFIG} --listen 0.0.0.0:8443 --token-file /etc/mitigator/serve.token --tls-cert serve.crt --tls-key serve.key`, "for Flowmon appliances on the network: TLS is required off loopback"],
      ["curl -fsS -H \"Authorization: Bearer $(cat serve.token)\" --data-binary @events.tsv http://127.0.0.1:8787/v1/events", "send detections: 200 {stored, duplicate, rejected, warnings} once committed"],
      ["curl -fsS http://127.0.0.1:8787/healthz; curl -fsS http://127.0.0.1:8787/metrics", "health (200, or 503 and why) and Prometheus metrics"]
    ],
    exitCodes: [
      [0, "never: serve runs until stopped (SIGTERM ends it with 130; under systemd, SuccessExitStatus=130)"],
      [1, "did not start: a bad command line or config, no private token file, plain HTTP off loopback, the address in use; or the log failed its chain check"]
    ]
  },
  plan: {
    summary: "Show what reconcile would change, changing nothing",
    examples: [
      [`mitigator plan --config ${CONFIG}`, "the changes reconcile would make"],
      [`mitigator plan --config ${CONFIG} --json`, "the same as one JSON object"],
      [`mitigator plan --config ${CONFIG} >/dev/null; echo $?`, "0 in sync, 2 changes pending (a monitoring check)"]
    ],
    exitCodes: [
      [0, "in sync: every configured appliance answered, nothing to change"],
      [2, "changes pending (also a plan over the caps: reconcile refuses it without --force)"],
      [1, "an appliance could not be observed, removals held while this clock and the appliance's disagree, or a bad command line or config"]
    ]
  },
  replay: {
    summary: "The desired state as of a time, with reasons; or the recorded events",
    examples: [
      [`mitigator replay --config ${CONFIG} --at 2025-11-03T15:00:00Z`, "what was to be blocked at that time, and why"],
      [`mitigator replay --config ${CONFIG} --events --json | jq .type`, "every recorded event, one JSON object per line"]
    ],
    exitCodes: [
      [0, "shown"],
      [1, "no event log there, a bad --at, or a bad command line or config"]
    ]
  },
  why: {
    summary: "The whole story of an address, network or user, from the log",
    examples: [
      [`mitigator why 192.0.2.31 --config ${CONFIG}`, "each detection and what became of it, what was applied, what is in force and what reconcile will do"],
      [`mitigator why 'CORP\\jdoe' --config ${CONFIG} --json`, "the story of a user, as one JSON object"]
    ],
    exitCodes: [
      [0, "shown"],
      [1, "not an address, network or user; no event log there; or a bad command line or config"]
    ]
  },
  block: {
    summary: "Block an address or network (recorded, and applied at once unless --defer)",
    examples: [
      ['mitigator block 203.0.113.0/24 --ttl 12h --reason "ticket 4711: scanning from this range"', "block a network for 12 hours, on the LoadMaster at once"],
      ['mitigator block 192.0.2.31 --ttl 7d --reason "ransomware" --target cryptospike', "block the user behind an address on CryptoSpike"],
      ['mitigator block 198.51.100.7 --ttl 1h --reason "test" --defer', "only record it: the next reconcile applies it"]
    ],
    exitCodes: [
      [0, "recorded and applied, or deferred (--defer), or no appliance configured for it"],
      [4, "recorded, not applied (the reason is printed; the next reconcile applies it)"],
      [1, "refused (a never-block rail, too wide a network; nothing recorded), or a bad command line or config"]
    ]
  },
  unblock: {
    summary: "End the blocks inside an address or network",
    examples: [
      ['mitigator unblock 203.0.113.0/24 --reason "ticket 4711 closed"', "end the blocks in that network (a later detection blocks again)"],
      ['mitigator unblock 192.0.2.31 --target loadmaster:global --reason "false positive"', "end the block on one target only"]
    ],
    exitCodes: [
      [0, "recorded and applied, or deferred (--defer), or nothing of mitigator's there to lift"],
      [4, "recorded, not applied (the reason is printed; the next reconcile applies it)"],
      [1, "nothing recorded: a bad address, command line or config"]
    ]
  },
  allow: {
    summary: "Never block inside an address or network (lifts blocks in force there)",
    examples: [
      [`mitigator allow 203.0.113.7 --reason "partner's monitoring host" --ttl 30d`, "allow an address for 30 days"],
      ['mitigator allow 198.51.100.0/24 --reason "our own scanners"', "allow a network for good"]
    ],
    exitCodes: [
      [0, "recorded and applied, or deferred (--defer), or nothing of mitigator's there to lift"],
      [4, "recorded, not applied (the reason is printed; the next reconcile applies it)"],
      [1, "nothing recorded: a bad address, command line or config"]
    ]
  },
  import: {
    summary: "Take over blocks recorded by another tool",
    examples: [
      [`mitigator import lm-timeout /home/flowmon/lm-mitigation/lm-block.db --config ${CONFIG} --dry-run`, "show what would be taken over"],
      [`mitigator import lm-timeout /home/flowmon/lm-mitigation/lm-block.db --config ${CONFIG}`, "take over lm-timeout.py's blocks"]
    ],
    exitCodes: [
      [0, "every row imported"],
      [3, "some rows rejected (recorded); the others imported"],
      [1, "a bad file, command line or config"]
    ]
  },
  "import lm-timeout": {
    examples: [
      [`mitigator import lm-timeout /home/flowmon/lm-mitigation/lm-block.db --config ${CONFIG} --dry-run`, "show what would be taken over"],
      [`mitigator import lm-timeout /home/flowmon/lm-mitigation/lm-block.db --config ${CONFIG}`, "take over lm-timeout.py's blocks, with the hours they had left"]
    ],
    exitCodes: [
      [0, "every row imported"],
      [3, "some rows rejected (recorded); the others imported"],
      [1, "a bad file, command line or config"]
    ]
  },
  verify: {
    summary: "Check the event log's hash chain and head file",
    examples: [
      [`mitigator verify --config ${CONFIG}`, "check the log in place"],
      ["mitigator verify --db /backup/mitigator.db", "check a copy"]
    ],
    exitCodes: [
      [0, "intact"],
      [1, "broken: names the first altered, removed, reordered or cut-off row (or no log there)"]
    ]
  },
  "copy-log": {
    summary: "Copy a whole event log with its hash chain (SQLite ↔ PostgreSQL) into an empty one",
    examples: [
      [`mitigator copy-log --from /data/mitigator/mitigator.db --to postgres://mitigator@db.example/mitigator --config ${CONFIG}`, "move the log to PostgreSQL (the password from the config's databasePasswordFile)"],
      ["PGPASSFILE=~/.pgpass mitigator copy-log --from postgres://mitigator@db.example/mitigator --to /backup/mitigator.db", "back to a SQLite file"],
      ["mitigator copy-log --from old.db --to new.db --json", "a plain copy, the summary as JSON"]
    ],
    exitCodes: [
      [0, "copied; both logs verified and ending at the same seq and hash"],
      [1, "nothing or not all copied: the source is broken, the target is not empty, the copy does not verify, a log could not be opened, or a bad command line or config"]
    ]
  },
  demo: {
    summary: "The whole loop on embedded emulators, in a temporary directory",
    examples: [
      ["mitigator demo", "append, status, why, reconcile, verify and replay against emulated appliances"],
      ["mitigator demo --keep", "the same, keeping the directory (log, config, keys) to look at"],
      ["mitigator demo --stay", "the same, then the emulators keep answering until Ctrl-C: try the other commands against them"]
    ],
    exitCodes: [
      [0, "every step did what it should"],
      [1, "a step failed"]
    ]
  },
  doctor: {
    summary: "Check the config, the event log and each appliance; change nothing",
    examples: [
      [`mitigator doctor --config ${CONFIG}`, "every check, each ✔ or ✖ with a one-line fix"],
      ["mitigator doctor --db /data/mitigator/mitigator.db", "check a log without a config"],
      [`mitigator doctor --config ${CONFIG} --json`, "the same checks as one JSON object, for monitoring"]
    ],
    exitCodes: [
      [0, "every check passed"],
      [1, "a check failed (the ✖ lines say which and how to fix it)"]
    ]
  },
  emulate: {
    signalExitsZero: true,
    summary: "Local emulators of the appliances, for tests and demos",
    examples: [
      ["mitigator emulate loadmaster --port 8443 --tls", "a LoadMaster ACL API on https://127.0.0.1:8443"],
      ["mitigator emulate cryptospike --port 8444", "a CryptoSpike REST API on http://127.0.0.1:8444"]
    ],
    exitCodes: [
      [0, "stopped by SIGTERM or SIGINT (after saving --state)"],
      [1, "could not start (port taken, bad option)"]
    ]
  },
  "emulate loadmaster": {
    signalExitsZero: true,
    examples: [
      ["mitigator emulate loadmaster --port 0", "any free port; the first line of stdout names the URL and API key"],
      ["mitigator emulate loadmaster --port 8443 --tls --cert-out lm.pem --state lm.json", "HTTPS, with its certificate and lists kept in files"],
      ["mitigator emulate loadmaster --port 8443 --host-form cidr --comment-max 64", "behave like older firmware"]
    ],
    exitCodes: [
      [0, "stopped by SIGTERM or SIGINT (after saving --state)"],
      [1, "could not start (port taken, bad option or state file)"]
    ]
  },
  "emulate cryptospike": {
    signalExitsZero: true,
    examples: [
      ["mitigator emulate cryptospike --port 0", "any free port; the first line of stdout names the URL, token and login"],
      ["mitigator emulate cryptospike --port 8444 --tls --seed users.json", "HTTPS, with users and file activity from a file"]
    ],
    exitCodes: [
      [0, "stopped by SIGTERM or SIGINT"],
      [1, "could not start (port taken, bad option or seed file)"]
    ]
  }
}
