/** Bad arguments: the command says why and exits 2. */
export class UsageError extends Error {}
