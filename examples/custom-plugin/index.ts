export { packetCounter, packetCounterSchema, PacketCounterPort, CountingSink, type PacketCounter, type PacketCounts } from './packet-counter.js';
export { epochReport, epochReportSchema, type ReportLine } from './epoch-report.js';
