/** `mitigator emulate loadmaster|cryptospike`: local emulators of the appliances mitigator drives. */
import * as Command from "@effect/cli/Command"
import { emulateLoadMasterCommand } from "./emulate.js"
import { emulateCryptoSpikeCommand } from "./emulateCryptoSpike.js"

export const emulateCommand = Command.make("emulate").pipe(
  Command.withDescription("Local emulators of the appliances mitigator drives, for tests and demos"),
  Command.withSubcommands([emulateLoadMasterCommand, emulateCryptoSpikeCommand])
)
