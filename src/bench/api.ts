export async function runApiBench(_: unknown): Promise<void> {}
