/**
 * @module
 * How the engine's hot classes initialise their fields, for V8: two field states that V8 changes
 * for the whole class (its hidden class, the "map") the first time an object leaves them, throwing
 * away the optimized code that relied on them. Mid-run, that is a deopt and a recompile of every
 * such function, once per engine thread (the compiles compete with the engines for the CPUs).
 *
 * **Doubles.** V8 gives a number field the representation of the first value stored in it: `0` or
 * `-1` are small integers (Smi), and the first fraction stored later generalises the field to a
 * double. That is no in-place change: the map of every object made so far is deprecated (each
 * object migrates to a new one when next touched: thousands of SmClocks per run) and the code that
 * relied on the old map deopts ("wrong map", "code dependencies"). A field that comes to hold
 * fractions (a time, a rate, bytes of a fluid share) is declared `= DOUBLE` (-0, which V8 always
 * holds as a heap number, never as a Smi): a double from the first object on. The constructor then
 * stores its real start value (`0`, `-1`: a small integer stored into a double field keeps it a
 * double and reads back as that number, so no -0 is ever seen), unless every read of the field
 * comes after a write (a value passed through a field instead of an argument).
 *
 * **Mutable fields.** A field stored once per object (by its initialiser) is "const" to V8, and
 * optimized code may rely on that (fold or keep its value across calls); the first store of a new
 * value into any object's field makes it mutable for the class and deopts that code. A field that
 * changes only late in an operation (a task's `done` at its end, a table's arrays when it grows,
 * a role's counters in its last phase) would do that mid-run; its constructor stores it a second
 * time (any store after the initialiser counts, even of the same value), so it is mutable from the
 * first object on, as a DOUBLE field is.
 */
export const DOUBLE = -0;
