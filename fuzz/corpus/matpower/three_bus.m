function mpc = three_bus
%THREE_BUS  A three-bus case written for the fuzzer's seed corpus.
mpc.version = '2';
mpc.baseMVA = 100;
%	bus_i	type	Pd	Qd	Gs	Bs	area	Vm	Va	baseKV	zone	Vmax	Vmin
mpc.bus = [
	1	3	0	0	0	0	1	1.02	0	132	1	1.1	0.9;
	2	2	20	5	0	0	1	1.01	-1.5	132	1	1.1	0.9;
	3	1	45.5	12	0	4.5	1	1	-3	33	1	1.1	0.9;
];
mpc.gen = [
	1	50	0	Inf	-Inf	1.02	100	1	200	0;
	2	20	3	30	-10	1.01	100	1	60	0;
];
mpc.branch = [
	1	2	0.01	0.05	0.02	120	120	120	0	0	1	-360	360;
	2	3	0.002	0.08	0	60	60	60	0.975	2.5	1	-360	360;
	1	3	0.02	0.12	0.01	0	0	0	0	0	0	-360	360;
];
mpc.bus_name = {
	'North';
	'East';
	'Feeder 33';
};
