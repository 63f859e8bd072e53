import { useApolloClient, useQuery } from '@apollo/client/react';
import { useEffect, useMemo, useState } from 'preact/hooks';

import { problemOf } from './problems';
import { CAPABILITIES, KEYS, type SeriesVariables } from './queries';
import {
  granularityOf,
  heatmapSpan,
  rangeProblem,
  readSelection,
  spanOf,
  writeSelection,
  type Selection,
} from './range';
import { readToken, saveToken } from './token';
import { HourOfDay } from './views/HourOfDay';
import { Instances } from './views/Instances';
import { MachineSplit } from './views/MachineSplit';
import { Picker } from './views/Picker';
import { SignIn } from './views/SignIn';
import { Summaries } from './views/Summaries';
import { TopKeys } from './views/TopKeys';
import { Usage } from './views/Usage';
import { Workspaces } from './views/Workspaces';

export function App() {
  const client = useApolloClient();
  const [selection, setSelection] = useState(() => readSelection(location.hash));
  const [token, setToken] = useState(readToken);
  const capabilities = useQuery(CAPABILITIES);
  const keys = useQuery(KEYS, { variables: { level: selection.level } });
  const fields = (type: 'bucket' | 'query') =>
    new Set(capabilities.data?.[type]?.fields.map((field) => field.name));
  const withResources = fields('bucket').has('resources');

  // A link or bookmark to another view, or the browser's back button, changes only the hash.
  useEffect(() => {
    const follow = () => setSelection(readSelection(location.hash));
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);

  const select = (next: Selection) => {
    setSelection(next);
    history.replaceState(null, '', writeSelection(next));
  };
  // The first key of the level until one is chosen (or when the chosen one is not among them).
  const keyList = keys.data?.usageKeys;
  useEffect(() => {
    if (keyList && keyList.length > 0 && !keyList.includes(selection.key))
      select({ ...selection, key: keyList[0]! });
  }, [keyList, selection.key]);

  const changeToken = (next: string | null) => {
    saveToken(next);
    setToken(next);
    // Every answer was for the last token: drop them all and ask again.
    client.resetStore().catch(() => undefined);
  };

  const authProblem = [capabilities.error, keys.error]
    .map(problemOf)
    .find((p) => p?.kind === 'unauthenticated');
  const reason =
    authProblem && (token ? 'The service did not accept this token. ' : '') + authProblem.message;
  const span = useMemo(() => spanOf(selection, Date.now()), [selection]);
  const granularity = granularityOf(selection, span);
  const problem = rangeProblem(selection);
  const base: Omit<SeriesVariables, 'granularity'> = {
    level: selection.level,
    key: selection.key,
    from: span.from,
    to: span.to,
  };

  return (
    <>
      <header class="topbar">
        <div class="brand">
          <span class="brand-name">carbonledger</span>
          <span class="brand-sub">energy and carbon of the cloud's machines</span>
        </div>
        <nav aria-label="Other pages">
          <a href="graphql">GraphQL playground</a>
        </nav>
        <SignIn signedIn={token !== null} reason={reason} onToken={changeToken} />
      </header>
      <main>
        <h1 class="visually-hidden">carbonledger dashboard</h1>
        <Picker
          selection={selection}
          keys={keyList}
          granularity={granularity}
          problem={problem}
          onChange={select}
        />
        {authProblem ? (
          <p class="notice" data-needs-token="true">
            This service asks for an access token: paste yours above (<code>carbonledger token</code> makes
            one).
          </p>
        ) : keys.error ? (
          <div class="problem" role="alert" data-problem={problemOf(keys.error)?.kind}>
            {problemOf(keys.error)?.message}
          </div>
        ) : problem || !selection.key ? null : (
          <div class="views">
            <Usage variables={{ ...base, granularity }} withResources={withResources} />
            <HourOfDay variables={{ ...base, ...spanVariables(heatmapSpan(span)) }} />
            <MachineSplit variables={base} />
            <TopKeys
              variables={{ level: selection.level, from: span.from, to: span.to }}
              keys={keyList}
              selected={selection.key}
              onSelect={(key) => select({ ...selection, key })}
            />
            <Workspaces level={selection.level} selectedKey={selection.key} />
            {selection.level === 'USER' && fields('query').has('dailySummaries') ? (
              <Summaries user={selection.key} from={span.from} to={span.to} />
            ) : null}
            {fields('query').has('instances') ? (
              <Instances level={selection.level} selectedKey={selection.key} from={span.from} to={span.to} />
            ) : null}
          </div>
        )}
      </main>
    </>
  );
}

function spanVariables(span: { from: string; to: string }): { from: string; to: string } {
  return { from: span.from, to: span.to };
}
