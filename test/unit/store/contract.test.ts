import { describeStore } from '../../support/describe-store';
import { jsonStoreFixture } from '../../support/json-store-fixture';

// Every backend, one line each.
describeStore('json', jsonStoreFixture);
