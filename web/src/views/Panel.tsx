import type { ComponentChildren } from 'preact';

import { PROBLEM_TITLES, problemOf } from '../problems';

interface Props {
  id: string;
  title: string;
  /** The query's state: a problem replaces the content with what went wrong, said plainly. */
  loading?: boolean;
  error?: unknown;
  actions?: ComponentChildren;
  children?: ComponentChildren;
  wide?: boolean;
}

/** A titled section of the page, labelled by its heading, that says when its data cannot be shown. */
export function Panel({ id, title, loading, error, actions, children, wide }: Props) {
  const problem = problemOf(error);
  return (
    <section class={wide ? 'panel panel-wide' : 'panel'} aria-labelledby={`${id}-title`} data-view={id}>
      <header class="panel-header">
        <h2 id={`${id}-title`}>{title}</h2>
        {actions}
      </header>
      {problem ? (
        <div class={`problem problem-${problem.kind}`} role="alert" data-problem={problem.kind}>
          <strong>{PROBLEM_TITLES[problem.kind]}.</strong> {problem.message}
        </div>
      ) : loading ? (
        <p class="loading" aria-busy="true">
          Loading…
        </p>
      ) : (
        children
      )}
    </section>
  );
}
