import { useState } from 'preact/hooks';

interface Props {
  signedIn: boolean;
  /** Why a token is asked for, when the API refused the last one (or having none). */
  reason?: string;
  onToken(token: string | null): void;
}

/**
 * The token is typed once and kept for the browser session; it is sent only as the
 * Authorization header of API requests.
 */
export function SignIn({ signedIn, reason, onToken }: Props) {
  const [token, setToken] = useState('');
  if (signedIn && !reason) {
    return (
      <div class="signin signin-done">
        <span class="muted">Token in use for this session</span>
        <button type="button" class="button button-quiet" onClick={() => onToken(null)}>
          Forget token
        </button>
      </div>
    );
  }
  return (
    <form
      class="signin"
      onSubmit={(event) => {
        event.preventDefault();
        if (token.trim()) onToken(token.trim());
        setToken('');
      }}
    >
      <label for="token">Access token</label>
      <input
        id="token"
        type="password"
        autoComplete="off"
        spellcheck={false}
        value={token}
        onInput={(event) => setToken(event.currentTarget.value)}
        aria-describedby={reason ? 'token-reason' : undefined}
      />
      <button type="submit" class="button">
        Use token
      </button>
      {reason && (
        <p id="token-reason" class="signin-reason" role="alert">
          {reason}
        </p>
      )}
    </form>
  );
}
