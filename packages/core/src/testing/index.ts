/**
 * `@esper/core/testing`: shared contract suites and test helpers for plugin authors.
 *
 * @packageDocumentation
 */
export {};
