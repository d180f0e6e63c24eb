/** The small closed sets the events and the policy share. */
import * as Schema from "effect/Schema"

export const Product = Schema.Literal("ads", "ids")
export type Product = typeof Product.Type

export const InputFormat = Schema.Literal("tsv15", "tsv17", "tsv14", "json", "cef")
export type InputFormat = typeof InputFormat.Type

/** ADS priorities, lowest first. */
export const PRIORITIES = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"] as const
export const Priority = Schema.Literal(...PRIORITIES)
export type Priority = typeof Priority.Type

export const priorityRank = (p: Priority): number => PRIORITIES.indexOf(p)
