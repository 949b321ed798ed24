use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use burn_collective::{
    all_reduce, finish_collective, register, AllReduceStrategy, CollectiveConfig, PeerId,
    ReduceOperation,
};
use burn_flex::{Flex, FlexDevice};

type B = Flex;
type AD = burn::backend::Autodiff<Flex>;

struct Args {
    node: u32,
    nodes: u32,
    port_base: u16,
    steps: usize,
    variant: String,  // loop | rereg | grads | grads-manual
    strategy: String, // ring | tree | centralized
    len: usize,
}

fn parse() -> Args {
    let mut a = Args {
        node: 0,
        nodes: 2,
        port_base: 30000,
        steps: 3,
        variant: "loop".into(),
        strategy: "ring".into(),
        len: 1000,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--node" => a.node = val.parse().unwrap(),
            "--nodes" => a.nodes = val.parse().unwrap(),
            "--port-base" => a.port_base = val.parse().unwrap(),
            "--steps" => a.steps = val.parse().unwrap(),
            "--variant" => a.variant = val,
            "--strategy" => a.strategy = val,
            "--len" => a.len = val.parse().unwrap(),
            other => panic!("unknown arg {other}"),
        }
        i += 2;
    }
    a
}

fn config(a: &Args) -> CollectiveConfig {
    let strat = match a.strategy.as_str() {
        "ring" => AllReduceStrategy::Ring,
        "tree" => AllReduceStrategy::Tree(2),
        "centralized" => AllReduceStrategy::Centralized,
        s => panic!("bad strategy {s}"),
    };
    let data_port = a.port_base + 1 + a.node as u16;
    CollectiveConfig::default()
        .with_num_devices(1)
        .with_num_nodes(a.nodes)
        .with_global_address(format!("ws://127.0.0.1:{}", a.port_base).parse().unwrap())
        .with_node_address(format!("ws://127.0.0.1:{data_port}").parse().unwrap())
        .with_data_service_port(data_port)
        .with_global_all_reduce_strategy(strat)
}

fn ar(peer: PeerId, t: Tensor<B, 1>) -> Tensor<B, 1> {
    let out = all_reduce::<B>(peer, t.into_primitive().tensor(), ReduceOperation::Mean)
        .expect("all_reduce failed");
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

fn main() {
    let a = parse();
    let tag = format!("[node {}]", a.node);
    let t0 = Instant::now();
    if a.node == 0 {
        let port = a.port_base;
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(burn_collective::start_global_orchestrator(port));
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        eprintln!("{tag} orchestrator started on port {port}");
    }
    let device = FlexDevice;
    let peer = PeerId(a.node);
    let cfg = config(&a);

    match a.variant.as_str() {
        "loop" => {
            let t = Instant::now();
            register::<B>(peer, device, cfg.clone()).expect("register failed");
            eprintln!("{tag} registered in {:?}", t.elapsed());
            for step in 0..a.steps {
                let x = Tensor::<B, 1>::full([a.len], a.node as f32 + step as f32, &device);
                let t = Instant::now();
                let y = ar(peer, x);
                let dt = t.elapsed();
                check(&tag, step, a.nodes, y);
                eprintln!("{tag} step {step} all_reduce {:.3} ms OK", dt.as_secs_f64() * 1e3);
            }
            let t = Instant::now();
            finish_collective::<B>(peer).expect("finish failed");
            eprintln!("{tag} finished in {:?}", t.elapsed());
        }
        "rereg" => {
            for step in 0..a.steps {
                let t = Instant::now();
                register::<B>(peer, device, cfg.clone()).expect("register failed");
                let tr = t.elapsed();
                let x = Tensor::<B, 1>::full([a.len], a.node as f32 + step as f32, &device);
                let t1 = Instant::now();
                let y = ar(peer, x);
                let ta = t1.elapsed();
                check(&tag, step, a.nodes, y);
                let t2 = Instant::now();
                finish_collective::<B>(peer).expect("finish failed");
                eprintln!(
                    "{tag} step {step} register {:.1} ms, all_reduce {:.3} ms, finish {:.1} ms OK",
                    tr.as_secs_f64() * 1e3,
                    ta.as_secs_f64() * 1e3,
                    t2.elapsed().as_secs_f64() * 1e3
                );
            }
        }
        "grads" | "grads-manual" => {
            register::<B>(peer, device, cfg.clone()).expect("register failed");
            let ad_dev = FlexDevice;
            AD::seed(&ad_dev, 42);
            let model = Model::<AD>::new(&ad_dev);
            let ids = burn::module::list_param_ids::<_, AD>(&model);
            eprintln!("{tag} param ids (module order): {:?}", ids.iter().map(|i| i.val()).collect::<Vec<_>>());
            for step in 0..a.steps {
                let x = Tensor::<AD, 2>::full([4, 8], 1.0 + a.node as f32 + step as f32, &ad_dev);
                let loss = model.forward(x).sum();
                let grads = GradientsParams::from_grads::<AD, _>(loss.backward(), &model);
                let before = summarize::<AD>(&model, &grads);
                let t = Instant::now();
                let grads = if a.variant == "grads" {
                    grads.all_reduce::<B>(peer, ReduceOperation::Mean).expect("grads all_reduce failed")
                } else {
                    manual_all_reduce::<AD, _>(&model, grads, peer)
                };
                let dt = t.elapsed();
                let after = summarize::<AD>(&model, &grads);
                eprintln!("{tag} step {step} grads all_reduce {:.3} ms; grad sums before {before:?} after {after:?}", dt.as_secs_f64() * 1e3);
            }
            finish_collective::<B>(peer).expect("finish failed");
        }
        v => panic!("bad variant {v}"),
    }
    eprintln!("{tag} DONE total {:?}", t0.elapsed());
    if a.node == 0 {
        // give peer time to finish before orchestrator dies with the process
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

fn check(tag: &str, step: usize, nodes: u32, y: Tensor<B, 1>) {
    let expected = step as f32 + (0..nodes).map(|n| n as f32).sum::<f32>() / nodes as f32;
    let v: Vec<f32> = y.into_data().to_vec().unwrap();
    let bad = v.iter().filter(|x| (**x - expected).abs() > 1e-5).count();
    if bad > 0 {
        panic!("{tag} step {step}: {bad}/{} wrong values, expected {expected}, got e.g. {}", v.len(), v[0]);
    }
}

#[derive(Module, Debug)]
struct Model<B: Backend> {
    l1: Linear<B>,
    l2: Linear<B>,
}

impl<B: Backend> Model<B> {
    fn new(d: &B::Device) -> Self {
        Self {
            l1: LinearConfig::new(8, 16).init(d),
            l2: LinearConfig::new(16, 16).init(d),
        }
    }
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.l2.forward(self.l1.forward(x))
    }
}

/// sum of each grad in module order
struct Sum<'a> {
    grads: &'a GradientsParams,
    out: Vec<f32>,
}
impl<'a, Ba: AutodiffBackend> ModuleVisitor<Ba> for Sum<'a> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<Ba, D>>) {
        let g = self.grads.get::<Ba::InnerBackend, D>(p.id).unwrap();
        self.out.push(g.sum().into_scalar().elem());
    }
}
use burn::tensor::ElementConversion;
fn summarize<Ba: AutodiffBackend>(m: &Model<Ba>, g: &GradientsParams) -> Vec<f32> {
    let mut s = Sum { grads: g, out: vec![] };
    Module::<Ba>::visit(m, &mut s);
    s.out
}

/// All-reduce each gradient in module (visit) order, independent of the (random) ParamId values.
struct ManualAR {
    grads: GradientsParams,
    peer: PeerId,
}
impl<Ba: AutodiffBackend<InnerBackend = B>> ModuleVisitor<Ba> for ManualAR {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<Ba, D>>) {
        if let Some(g) = self.grads.remove::<B, D>(p.id) {
            let out = all_reduce::<B>(self.peer, g.into_primitive().tensor(), ReduceOperation::Mean)
                .expect("all_reduce failed");
            self.grads.register::<B, D>(p.id, Tensor::from_primitive(TensorPrimitive::Float(out)));
        }
    }
}
fn manual_all_reduce<Ba: AutodiffBackend<InnerBackend = B>, M: Module<Ba>>(
    m: &M,
    grads: GradientsParams,
    peer: PeerId,
) -> GradientsParams {
    let mut v = ManualAR { grads, peer };
    Module::<Ba>::visit(m, &mut v);
    v.grads
}

#[allow(dead_code)]
fn _unused(_: TensorData) {}
