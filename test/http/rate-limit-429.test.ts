import { runLimitSuite } from '../helpers/limit-suite.js';

runLimitSuite('memory store', () => '');
