import test from 'ava';
import { mergeRanges, missingRanges } from '../../src/domain/time-ranges.js';

test('merging joins overlapping and adjacent ranges and drops empty ones', (t) => {
  t.deepEqual(mergeRanges([{ from: 5, to: 7 }, { from: 0, to: 2 }, { from: 2, to: 3 }, { from: 6, to: 9 }, { from: 4, to: 4 }]), [{ from: 0, to: 3 }, { from: 5, to: 9 }]);
});

test('missing ranges are the parts of the request no covered range includes', (t) => {
  const covered = [{ from: 10, to: 20 }, { from: 30, to: 40 }];
  t.deepEqual(missingRanges(0, 50, covered), [{ from: 0, to: 10 }, { from: 20, to: 30 }, { from: 40, to: 50 }]);
  t.deepEqual(missingRanges(12, 18, covered), []);
  t.deepEqual(missingRanges(15, 35, covered), [{ from: 20, to: 30 }]);
  t.deepEqual(missingRanges(0, 5, []), [{ from: 0, to: 5 }]);
  t.deepEqual(missingRanges(40, 45, covered), [{ from: 40, to: 45 }]);
});
