/**
 * `@esper/core`: the Esper kernel.
 *
 * @packageDocumentation
 */
import 'reflect-metadata';

export * from './errors.js';
