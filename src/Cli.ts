/** The root command and its subcommands. */
import * as Command from "@effect/cli/Command"
import pkg from "../package.json" with { type: "json" }
import { appendCommand } from "./commands/append.js"
import { demoCommand } from "./commands/demo.js"
import { doctorCommand } from "./commands/doctor.js"
import { emulateCommand } from "./commands/emulators.js"
import { importCommand } from "./commands/import.js"
import { allowCommand, blockCommand, unblockCommand } from "./commands/operator.js"
import { planCommand, reconcileCommand } from "./commands/reconcile.js"
import { replayCommand } from "./commands/replay.js"
import { statusCommand } from "./commands/status.js"
import { verifyCommand } from "./commands/verify.js"

const root = Command.make("mitigator").pipe(
  Command.withDescription(
    "Turns Flowmon ADS/IDS detections into blocks on Kemp LoadMaster and ProLion CryptoSpike, from an append-only event log"
  ),
  Command.withSubcommands([
    appendCommand,
    statusCommand,
    reconcileCommand,
    planCommand,
    replayCommand,
    blockCommand,
    unblockCommand,
    allowCommand,
    importCommand,
    verifyCommand,
    demoCommand,
    doctorCommand,
    emulateCommand
  ])
)

export const cli = Command.run(root, { name: "mitigator", version: pkg.version })
