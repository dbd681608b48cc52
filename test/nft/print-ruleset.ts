// Prints the reference ruleset (nft/ruleset.nft): node dist/test/nft/print-ruleset.js > nft/ruleset.nft
import { renderRuleset } from '../../lib/nft/ruleset';
import { testConfig, TEST_INDEX } from './fixtures';

process.stdout.write(renderRuleset(testConfig(), TEST_INDEX));
