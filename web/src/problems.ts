import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';

/** What went wrong with a query, in the terms a person acts on. */
export type Problem =
  | { kind: 'unauthenticated'; message: string }
  | { kind: 'forbidden'; message: string }
  | { kind: 'unavailable'; message: string }
  | { kind: 'bad-input'; message: string }
  | { kind: 'other'; message: string };

/** The API's error codes (contract sections 4 and 7) and its plain 401 answer, told apart. */
export function problemOf(error: unknown): Problem | undefined {
  if (!error) return undefined;
  if (ServerError.is(error) && error.statusCode === 401) {
    return {
      kind: 'unauthenticated',
      message: serverMessage(error.bodyText) ?? 'An access token is needed.',
    };
  }
  if (CombinedGraphQLErrors.is(error)) {
    const first = error.errors[0];
    const message = first?.message ?? error.message;
    switch (first?.extensions?.code) {
      case 'UNAUTHENTICATED':
        return { kind: 'unauthenticated', message };
      case 'FORBIDDEN':
        return { kind: 'forbidden', message };
      case 'DATA_UNAVAILABLE':
        return { kind: 'unavailable', message };
      case 'BAD_USER_INPUT':
        return { kind: 'bad-input', message };
    }
    return { kind: 'other', message };
  }
  return { kind: 'other', message: error instanceof Error ? error.message : String(error) };
}

/** The message of a GraphQL-shaped error body (our 401s carry one). */
function serverMessage(bodyText: string): string | undefined {
  try {
    const body = JSON.parse(bodyText) as { errors?: Array<{ message?: string }> };
    return body.errors?.[0]?.message;
  } catch {
    return undefined;
  }
}

export const PROBLEM_TITLES: Record<Problem['kind'], string> = {
  unauthenticated: 'Sign-in needed',
  forbidden: 'Not allowed for this token',
  unavailable: 'Data unavailable',
  'bad-input': 'Not a valid request',
  other: 'Something went wrong',
};
