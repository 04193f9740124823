import { runDashboardGateway } from './targets.js';

/** (s) the gateway of (b) with a dashboard session streaming its overview, clients and live log. */
runDashboardGateway('target-s.js');
