import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';

import { readToken } from './token';

/**
 * The one Apollo Client of the page. Its cache normalises by the schema's stable ids (a series, a
 * bucket, a workspace, a machine's metrics each have `id`), so a series fetched by two views is
 * one object; the column lists and figures without ids merge into the object that holds them.
 */
export function createClient(): ApolloClient {
  const authorization = new SetContextLink((prevContext) => {
    const token = readToken();
    return token ? { headers: { ...prevContext.headers, authorization: `Bearer ${token}` } } : {};
  });
  // Relative, so the page works wherever the service is mounted.
  const http = new HttpLink({ uri: new URL('graphql', document.baseURI).pathname });
  return new ApolloClient({
    link: ApolloLink.from([authorization, http]),
    cache: new InMemoryCache({
      typePolicies: {
        UsageColumns: { merge: true },
        UsageFigures: { merge: true },
        ResourceFigures: { merge: true },
      },
    }),
    defaultOptions: { watchQuery: { fetchPolicy: 'cache-first' } },
  });
}
