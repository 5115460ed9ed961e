// An independent OCPP implementation (npm `ocpp-rpc`, strict mode: every call and every
// answer validated against the official schemas) drives our CSMS through a session.
// Usage: node ocpp_rpc_client.js <endpoint> <identity> <password> <ocpp1.6|ocpp2.0.1> <idTag>
// Prints one JSON line with what the server answered.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [endpoint, identity, password, protocol, idTag] = process.argv.slice(2);
const now = (s = 0) => new Date(Date.now() + s * 1000).toISOString();

async function run16(cli, out) {
    out.boot = await cli.call('BootNotification', { chargePointVendor: 'npm', chargePointModel: 'ocpp-rpc' });
    out.heartbeat = await cli.call('Heartbeat', {});
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' });
    out.authorize = await cli.call('Authorize', { idTag });
    out.start = await cli.call('StartTransaction', { connectorId: 1, idTag, meterStart: 5000, timestamp: now() });
    const transactionId = out.start.transactionId;
    await cli.call('MeterValues', {
        connectorId: 1, transactionId,
        meterValue: [{ timestamp: now(600), sampledValue: [{ value: '9000', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
    });
    out.stop = await cli.call('StopTransaction', { transactionId, meterStop: 15000, timestamp: now(1200), reason: 'EVDisconnected' });
    out.stopAgain = await cli.call('StopTransaction', { transactionId, meterStop: 15000, timestamp: now(1200), reason: 'EVDisconnected' });
    out.dataTransfer = await cli.call('DataTransfer', { vendorId: 'npm.test' });
}

async function run201(cli, out) {
    out.boot = await cli.call('BootNotification', { chargingStation: { model: 'ocpp-rpc', vendorName: 'npm' }, reason: 'PowerUp' });
    out.heartbeat = await cli.call('Heartbeat', {});
    await cli.call('StatusNotification', { timestamp: now(), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
    out.authorize = await cli.call('Authorize', { idToken: { idToken: idTag, type: 'ISO14443' } });
    const tx = (type, seq, wh, extra = {}) => ({
        eventType: type, timestamp: now(seq * 600), triggerReason: type === 'Started' ? 'Authorized' : 'EVCommunicationLost', seqNo: seq,
        transactionInfo: Object.assign({ transactionId: 'npm-tx-1' }, type === 'Ended' ? { stoppedReason: 'EVDisconnected' } : {}),
        evse: { id: 1, connectorId: 1 },
        meterValue: [{ timestamp: now(seq * 600), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register' }] }],
        ...extra,
    });
    out.start = await cli.call('TransactionEvent', tx('Started', 0, 5000, { idToken: { idToken: idTag, type: 'ISO14443' } }));
    out.stop = await cli.call('TransactionEvent', tx('Ended', 2, 15000));
    out.stopAgain = await cli.call('TransactionEvent', tx('Ended', 2, 15000));
    out.security = await cli.call('SecurityEventNotification', { type: 'StartupOfTheDevice', timestamp: now() });
}

(async () => {
    const cli = new RPCClient({ endpoint, identity, password, protocols: [protocol], strictMode: true, reconnect: false });
    const out = {};
    cli.on('strictValidationFailure', (e) => { out.strictFailures = (out.strictFailures || 0) + 1; console.error(e); });
    await cli.connect();
    out.protocol = cli.protocol;
    await (protocol === 'ocpp1.6' ? run16(cli, out) : run201(cli, out));
    await cli.close();
    console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
