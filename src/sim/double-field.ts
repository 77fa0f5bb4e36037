/**
 * @module
 * The first value of an object's number field that comes to hold fractions (a time, a rate, bytes
 * of a fluid share). V8 gives a field the representation of the first value stored in it: `0` or
 * `-1` are small integers (Smi), and the first fraction stored later generalises the field to a
 * double. That is no in-place change: the hidden class (map) of every object made so far is
 * deprecated (each object migrates to a new one when next touched: thousands of SmClocks per run),
 * and the optimized code that relied on the old map is thrown away and compiled again, once per
 * engine thread, in the middle of a run ("wrong map" and "code dependencies" deopts).
 *
 * A field declared `= DOUBLE` (-0, which V8 always holds as a heap number, never as a Smi) is a
 * double from the first object on. The constructor then stores its real start value (`0`, `-1`:
 * a small integer stored into a double field keeps it a double and reads back as that number, so
 * no -0 is ever seen), unless every read of the field comes after a write (a value passed through
 * a field instead of an argument).
 */
export const DOUBLE = -0;
