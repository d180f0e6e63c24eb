/**
 * Which logs live on PostgreSQL, and how their URL is printed. No `pg` here: the CLI reads this
 * for every command (a SQLite `append` included) to pick the log's backend.
 */

/** `postgres://…` or `postgresql://…` selects the PostgreSQL log; anything else is a SQLite file. */
export const isPostgresUrl = (target: string): boolean => /^postgres(ql)?:\/\//i.test(target)

/** The URL as messages print it: a password in it (refused anyway) shown as `***`. */
export const redactedUrl = (url: string): string => url.replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/i, "$1:***@")
