import './styles.css';

import { ApolloProvider } from '@apollo/client/react';
import { render } from 'preact';

import { createClient } from './apollo';
import { App } from './App';

render(
  <ApolloProvider client={createClient()}>
    <App />
  </ApolloProvider>,
  document.getElementById('app')!,
);
